//! Call stacks rebuilt from the in-order trace, and the instructions counted per stack.
//!
//! Each vCPU keeps a stack of frames: the function running in it (a node of the call tree,
//! which names the whole path from the thread's root) and the address the frame returns to.
//! For two consecutive block executions P then B:
//!
//! 1. P ends with a call and B is not P's fall-through: push a frame for B's function,
//!    returning to the end of P. (A call to the next instruction, or to code outside the
//!    filter, comes back at once: nothing to push.)
//! 2. P ends with a return, or a system call (after which a signal handler's sigreturn
//!    resumes the interrupted code): pop to the topmost frame whose return address is B's
//!    start.
//! 3. Otherwise, or when no frame matched, and B is in another function than the top frame:
//!    - B's start is a return address on the stack (a signal handler's sigreturn back to
//!      where the signal arrived): pop to it;
//!    - B is a function's entry: after a system call, a signal handler starts (a frame that
//!      returns to where the signal came); after anything else it is a tail call or a jump
//!      through a PLT stub, and the top frame becomes B's function;
//!    - B is in the middle of a function that is on the stack (longjmp, returning from a
//!      signal handler): pop to that function's frame (not for code without a symbol,
//!      grouped per module: that is no one function);
//!    - else the top frame becomes B's function.
//!
//! Rule 3 resynchronises: whatever the program does, the top frame always names the function
//! B's instructions belong to, so exclusive counts per function are exact; the stack above it
//! may be wrong only until the next return that matches.

use std::collections::HashMap;

use crate::calls::End;

/// Function ids index `Tree::names`.
pub type FuncId = u32;
/// Call tree node ids index `Tree::nodes`.
pub type NodeId = u32;

/// What the stack machine needs of one translated block.
pub struct BlockShape {
    pub start: u64,
    /// The address after the block: a call's return address.
    pub end: u64,
    pub last: End,
    /// Whether `start` is the entry of its function.
    pub entry: bool,
    /// Whether the block's function has a symbol: code without one is grouped per module
    /// (`[libc.so.6]`), which is no single function to pop back to.
    pub named: bool,
    /// Consecutive runs of instructions in one function: (function, instructions). Almost
    /// always one run; more when a block crosses a symbol boundary.
    pub runs: Vec<(FuncId, u32)>,
}

impl BlockShape {
    fn func(&self) -> FuncId {
        self.runs[0].0
    }
}

/// The call tree: one node per distinct path of functions, with instructions counted at the
/// node where they ran (its exclusive count).
pub struct Tree {
    /// Function names (frames of the folded output).
    pub names: Vec<String>,
    /// (parent, function) per node; the roots (one per thread) have no parent.
    pub nodes: Vec<(Option<NodeId>, FuncId)>,
    pub counts: Vec<u64>,
    children: HashMap<(NodeId, FuncId), NodeId>,
    roots: HashMap<FuncId, NodeId>,
}

impl Tree {
    pub fn new() -> Self {
        Tree {
            names: Vec::new(),
            nodes: Vec::new(),
            counts: Vec::new(),
            children: HashMap::new(),
            roots: HashMap::new(),
        }
    }

    pub fn add_name(&mut self, name: String) -> FuncId {
        self.names.push(name);
        (self.names.len() - 1) as FuncId
    }

    fn new_node(&mut self, parent: Option<NodeId>, func: FuncId) -> NodeId {
        self.nodes.push((parent, func));
        self.counts.push(0);
        (self.nodes.len() - 1) as NodeId
    }

    pub fn root(&mut self, func: FuncId) -> NodeId {
        if let Some(&n) = self.roots.get(&func) {
            return n;
        }
        let n = self.new_node(None, func);
        self.roots.insert(func, n);
        n
    }

    pub fn child(&mut self, parent: NodeId, func: FuncId) -> NodeId {
        if let Some(&n) = self.children.get(&(parent, func)) {
            return n;
        }
        let n = self.new_node(Some(parent), func);
        self.children.insert((parent, func), n);
        n
    }

    /// The functions from the root to `node`.
    pub fn path(&self, mut node: NodeId) -> Vec<FuncId> {
        let mut path = Vec::new();
        loop {
            let (parent, func) = self.nodes[node as usize];
            path.push(func);
            match parent {
                Some(p) => node = p,
                None => break,
            }
        }
        path.reverse();
        path
    }
}

/// No return address: a thread's root frame, and the outermost function of a thread.
const NOWHERE: u64 = u64::MAX;

#[derive(Clone, Copy)]
struct Frame {
    node: NodeId,
    func: FuncId,
    ret: u64,
}

/// One vCPU's stack. Frame 0 is the thread's root (a pseudo-function naming the thread); it
/// is never popped.
pub struct Stack {
    frames: Vec<Frame>,
    /// The previous block execution of this vCPU.
    prev: Option<u32>,
}

impl Stack {
    pub fn new(tree: &mut Tree, thread: FuncId) -> Self {
        let root = tree.root(thread);
        Stack { frames: vec![Frame { node: root, func: thread, ret: NOWHERE }], prev: None }
    }

    fn top(&self) -> Frame {
        *self.frames.last().unwrap()
    }

    fn push(&mut self, tree: &mut Tree, func: FuncId, ret: u64) {
        let node = tree.child(self.top().node, func);
        self.frames.push(Frame { node, func, ret });
    }

    /// The top frame now runs `func` (a tail call, a jump elsewhere). The thread's root is
    /// never renamed: a function is pushed above it instead.
    fn rename_top(&mut self, tree: &mut Tree, func: FuncId) {
        if self.frames.len() == 1 {
            self.push(tree, func, NOWHERE);
            return;
        }
        let frame = self.frames.pop().unwrap();
        self.push(tree, func, frame.ret);
    }

    /// Index of the topmost frame (above the root) that returns to `addr`.
    fn returning_to(&self, addr: u64) -> Option<usize> {
        self.frames.iter().rposition(|f| f.ret == addr).filter(|&i| i > 0)
    }

    /// Moves the stack across the transfer from `prev` to `b` (rules in the module docs).
    fn transfer(&mut self, tree: &mut Tree, prev: Option<&BlockShape>, b: &BlockShape) {
        let f = b.func();
        let Some(p) = prev else {
            if self.top().func != f {
                self.push(tree, f, NOWHERE);
            }
            return;
        };
        match p.last {
            End::Call if b.start != p.end => {
                self.push(tree, f, p.end);
                return;
            }
            // After a system call: a signal handler's sigreturn back to where it came.
            End::Ret | End::Syscall => {
                if let Some(i) = self.returning_to(b.start) {
                    self.frames.truncate(i);
                }
            }
            _ => {}
        }
        if self.top().func == f && self.frames.len() > 1 {
            return;
        }
        if let Some(i) = self.returning_to(b.start) {
            self.frames.truncate(i);
        } else if b.entry {
            if p.last == End::Syscall {
                self.push(tree, f, p.end);
            } else {
                self.rename_top(tree, f);
            }
        } else if let Some(i) = self.frames.iter().rposition(|fr| fr.func == f).filter(|&i| i > 0 && b.named) {
            self.frames.truncate(i + 1);
        }
        if self.top().func != f || self.frames.len() == 1 {
            self.rename_top(tree, f);
        }
    }

    /// Accounts one execution of block `id` (`executed` of its instructions ran: all of them
    /// unless the execution was cut short by a fault).
    pub fn execute(&mut self, tree: &mut Tree, shapes: &[Option<BlockShape>], id: u32, executed: Option<u32>) {
        let Some(Some(b)) = shapes.get(id as usize) else { return };
        let prev = self.prev.and_then(|p| shapes.get(p as usize)).and_then(Option::as_ref);
        self.transfer(tree, prev, b);
        let mut left = executed.unwrap_or(u32::MAX);
        for (i, &(func, n)) in b.runs.iter().enumerate() {
            if i > 0 && self.top().func != func {
                self.rename_top(tree, func);
            }
            let n = n.min(left);
            tree.counts[self.top().node as usize] += u64::from(n);
            left -= n;
        }
        self.prev = Some(id);
    }
}
