// The optional merge step (WIT `cannonball:script/merge`, new in 0.2.2): the reports of
// several runs, as the host hands them to `Script.merge`.

/** One report of a run: its file name and contents. */
export class Report {
  constructor(
    public name: string,
    public contents: Uint8Array,
  ) {}

  /** The contents as UTF-8 text. */
  text(): string {
    return String.UTF8.decode(this.contents.buffer);
  }
}

/** The reports one run left (`run`: the corpus input's name). */
export class ReportSet {
  constructor(
    public run: string,
    public reports: Report[],
  ) {}

  /** The report named `name`, or null if the run has none. */
  get(name: string): Report | null {
    for (let i = 0; i < this.reports.length; i++) {
      if (this.reports[i].name == name) return this.reports[i];
    }
    return null;
  }
}
