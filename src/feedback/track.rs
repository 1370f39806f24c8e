//! Following a line range of a file from one commit to another through the
//! diff between them: plain data in (the range, the file's hunks), plain
//! data out (where the lines are now, or that they changed).

use crate::git::diff::Hunk;

/// Where an earlier finding's lines are at the new head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// Unchanged, now at these lines (1-based, inclusive).
    At { start: u32, end: u32 },
    /// A line of the range was changed or removed, or a line was inserted
    /// inside it: the code the finding was about is not there as it was.
    Changed,
}

/// Follows old lines `start..=end` through `hunks` (a diff of the file from
/// the old to the new commit, made with no context lines). A hunk that
/// removes or replaces any line of the range, or inserts lines between two
/// of its lines, changes it; hunks wholly before it move it.
pub fn follow(start: u32, end: u32, hunks: &[Hunk]) -> Followed {
    let (start, end) = (start.max(1), end.max(start.max(1)));
    let mut shift: i64 = 0;
    for h in hunks {
        if h.old_lines == 0 {
            // A pure insertion after old line `old_start` (0: at the top).
            if h.old_start >= start && h.old_start < end {
                return Followed::Changed;
            }
            if h.old_start < start {
                shift += i64::from(h.new_lines);
            }
            continue;
        }
        let (a, b) = (h.old_start, h.old_start + h.old_lines - 1);
        if a <= end && b >= start {
            return Followed::Changed;
        }
        if b < start {
            shift += i64::from(h.new_lines) - i64::from(h.old_lines);
        }
    }
    let moved = |l: u32| (i64::from(l) + shift).max(1) as u32;
    Followed::At {
        start: moved(start),
        end: moved(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunk(old_start: u32, old_lines: u32, new_start: u32, new_lines: u32) -> Hunk {
        Hunk {
            old_start,
            old_lines,
            new_start,
            new_lines,
            lines: Vec::new(),
            enclosing: None,
        }
    }

    #[test]
    fn lines_below_an_insertion_move_down() {
        // Two lines inserted after line 3.
        assert_eq!(
            follow(10, 12, &[hunk(3, 0, 4, 2)]),
            Followed::At { start: 12, end: 14 }
        );
    }

    #[test]
    fn lines_below_a_removal_move_up_and_lines_above_stay() {
        let hunks = [hunk(20, 3, 19, 0)];
        assert_eq!(follow(30, 30, &hunks), Followed::At { start: 27, end: 27 });
        assert_eq!(follow(5, 6, &hunks), Followed::At { start: 5, end: 6 });
    }

    #[test]
    fn an_edited_line_inside_the_range_changes_it() {
        assert_eq!(follow(10, 12, &[hunk(12, 1, 12, 1)]), Followed::Changed);
        assert_eq!(follow(10, 12, &[hunk(8, 3, 8, 1)]), Followed::Changed);
    }

    #[test]
    fn an_insertion_between_its_lines_changes_it_but_not_one_at_its_edges() {
        assert_eq!(follow(10, 12, &[hunk(10, 0, 11, 1)]), Followed::Changed);
        assert_eq!(
            follow(10, 12, &[hunk(12, 0, 13, 1)]),
            Followed::At { start: 10, end: 12 }
        );
        assert_eq!(
            follow(10, 12, &[hunk(9, 0, 10, 1)]),
            Followed::At { start: 11, end: 13 }
        );
    }

    #[test]
    fn several_hunks_add_up() {
        let hunks = [hunk(1, 0, 1, 3), hunk(4, 2, 7, 0), hunk(50, 1, 48, 1)];
        assert_eq!(follow(20, 21, &hunks), Followed::At { start: 21, end: 22 });
    }
}
