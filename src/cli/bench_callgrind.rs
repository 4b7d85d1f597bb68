//! `sluice bench --callgrind`: a bench's pull run as `sluice run --once` under
//! `valgrind --tool=callgrind`, for the instructions it executes. Instruction counts repeat
//! from run to run on a loaded machine where seconds do not, and the server (a process of its
//! own with `--shape p1`) is not counted: valgrind follows no child process.

use std::path::Path;

/// Runs `sluice run --once --config <config>` under callgrind, its profile written in `dir`,
/// and returns the instructions it executed (the profile's total `Ir`). `Err` says what failed:
/// valgrind missing, the run failing (with the end of its output), or no total in the profile.
pub(super) async fn instructions(config: &Path, dir: &Path) -> Result<u64, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program to run under valgrind: {e}"))?;
    let profile = dir.join("callgrind.out");
    let output = tokio::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg(&exe)
        .args(["run", "--once", "--config"])
        .arg(config)
        .current_dir(dir)
        .output()
        .await
        .map_err(|e| {
            format!("cannot run valgrind: {e} (hint: install it, e.g. apt-get install valgrind)")
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "`sluice run --once --config {}` under callgrind failed ({}): {}",
            config.display(),
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    let text = std::fs::read_to_string(&profile).map_err(|e| {
        format!(
            "cannot read the callgrind profile {}: {e}",
            profile.display()
        )
    })?;
    total(&text).ok_or_else(|| {
        format!(
            "the callgrind profile {} has no `totals:` or `summary:` line",
            profile.display()
        )
    })
}

/// The total of the first event (`Ir`) in a callgrind profile.
fn total(profile: &str) -> Option<u64> {
    profile
        .lines()
        .filter_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_the_first_count_of_the_totals_or_summary_line() {
        let profile = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfl=(1) a.rs\nfn=(1) main\n3 12\nsummary: 123456789\ntotals: 123456789\n";
        assert_eq!(total(profile), Some(123_456_789));
        assert_eq!(total("events: Ir Dr\ntotals: 42 7\n"), Some(42));
        assert_eq!(total("events: Ir\n"), None);
    }
}
