/* A small word-statistics program: the oracle program of tests/tests/lcov.rs. Built twice
 * with -O0 -g, once with --coverage (gcov's counts, collected by lcov) and once without (run
 * under cov). Loops, branches, a switch, functions called different numbers of times, and a
 * function that never runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *text[] = {
    "the quick brown fox jumps over the lazy dog",
    "pack my box with five dozen liquor jugs",
    "how vexingly quick daft zebras jump",
    "",
    "sphinx of black quartz judge my vow",
};

enum kind { VOWEL, CONSONANT, SPACE, OTHER };

static enum kind classify(char c)
{
    if (c == ' ')
        return SPACE;
    if (c >= 'a' && c <= 'z') {
        if (strchr("aeiou", c) != NULL)
            return VOWEL;
        return CONSONANT;
    }
    return OTHER;
}

static int count_words(const char *s)
{
    int words = 0, in_word = 0;
    for (; *s; s++) {
        if (*s == ' ') {
            in_word = 0;
        } else if (!in_word) {
            in_word = 1;
            words++;
        }
    }
    return words;
}

static unsigned checksum(const char *s, unsigned seed)
{
    unsigned h = seed;
    while (*s) {
        h = h * 31 + (unsigned char)*s;
        s++;
    }
    return h;
}

/* Never called: its lines stay at 0. */
static void report_error(const char *what)
{
    fprintf(stderr, "error: %s\n", what);
    exit(2);
}

int main(int argc, char **argv)
{
    int counts[4] = {0, 0, 0, 0};
    int words = 0;
    unsigned sum = 0;
    size_t n = sizeof text / sizeof text[0];

    if (argc > 5)
        report_error("too many arguments");
    for (size_t i = 0; i < n; i++) {
        const char *line = text[i];
        if (line[0] == '\0')
            continue;
        words += count_words(line);
        for (size_t j = 0; line[j] != '\0'; j++) {
            switch (classify(line[j])) {
            case VOWEL:
                counts[VOWEL]++;
                break;
            case CONSONANT:
                counts[CONSONANT]++;
                break;
            case SPACE:
                counts[SPACE]++;
                break;
            default:
                counts[OTHER]++;
            }
        }
        if (i % 2 == 0)
            sum = checksum(line, sum);
    }
    printf("words %d vowels %d consonants %d spaces %d other %d checksum %u\n", words, counts[VOWEL],
           counts[CONSONANT], counts[SPACE], counts[OTHER], sum);
    return argv[0] == NULL;
}
