import Foundation
import TestSupport
import XCTest

/// Defects found by a newcomer's and a hostile user's session: symbolic links, signals, full file systems,
/// interrupted commits, refusals that leave folders, the baseline check, one-line messages. Each test failed
/// against the build before the fixes (HAT_BINARY pointing at it); the moments of a kill are chosen with
/// `HAT_SIGNAL_AT=POINT:SIGNAL` (the process signals itself at that point, see SignalCleanup.testPoint).
final class NewcomerDefectTests: XCTestCase {
    let twoCountry = configPath("two-country.toml")

    func contents(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// hat's temporaries and journal in a folder (`.NAME.tmp-…`, `.hat-commit`, `.hat.lock`).
    func leftovers(_ dir: String) -> [String] {
        contents(dir).filter { $0.contains(".tmp-") || $0 == ".hat-commit" || $0 == ".hat.lock" }
    }

    /// A small tmpfs, filled up (`dd`), unmounted when the test ends. Mounting needs root, as the test
    /// suite runs (scripts/test.sh); anywhere else the test fails rather than passing unchecked.
    func fullFileSystem() throws -> String {
        let dir = temporaryDirectory() + "/full"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let mount = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir])
        XCTAssertEqual(mount.status, 0, "cannot mount a tmpfs (the suite runs as root): \(mount.stderr)")
        addTeardownBlock { _ = try? runProcess("/bin/umount", [dir]) }
        _ = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(dir)/fill", "bs=4k", "count=1000"])
        return dir
    }

    /// A solved two-country baseline (for counterfactuals and commits over earlier outputs).
    func solvedBaseline(_ dir: String) throws {
        let r = try hat(["solve", twoCountry, "--out", dir], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    // 1. A lock planted as a symbolic link is refused, and the file it names is untouched (solve, planner,
    // calibrate); a journal naming files outside the folder moves nothing.
    func testLockPlantedAsASymbolicLinkIsRefusedAndItsTargetKept() throws {
        let dir = temporaryDirectory()
        let victim = dir + "/victim"
        try "KEEP\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let runs: [(String, [String])] = [
            ("solve", ["solve", twoCountry]), ("planner", ["planner", twoCountry]),
            ("calibrate", ["calibrate", configPath("ek19-calibrate-small.toml")]),
        ]
        for (name, arguments) in runs {
            let out = dir + "/\(name)"
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: out + "/.hat.lock", withDestinationPath: "../victim")
            let r = try hat(arguments + ["--out", out], timeout: 120)
            XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("symbolic link"), "\(name): \(r.stderr)")
            XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "KEEP\n", "\(name) wrote through the link")
        }
        // A hand-edited journal that names a file outside the folder: the next run must not move it.
        let out = dir + "/journal"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "../victim\tsummary.json\n.x.tmp-1\t../moved\n".write(toFile: out + "/.hat-commit", atomically: false, encoding: .utf8)
        let r = try hat(["solve", twoCountry, "--out", out], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "KEEP\n", "the journal moved a file from outside the folder")
        XCTAssertFalse(exists(dir + "/moved"))
    }

    // 3. Labor so large that the residuals overflow: refused up front naming the key, no folder, no null.
    func testOverflowingLaborIsRefusedUpFront() throws {
        let dir = temporaryDirectory()
        let r = try hat(["solve", twoCountry, "--out", dir + "/o", "--set", "world.labor=[1e300, 1.0]"], timeout: 120)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("[world.labor]") && r.stderr.contains("overflow"), r.stderr)
        XCTAssertFalse(exists(dir + "/o"))
    }

    // 4. SIGUSR1 (SLURM's --signal) ends a plain solve as SIGTERM does: cleaned up, status of SIGTERM.
    func testSIGUSR1EndsAPlainSolveAsSIGTERMDoes() throws {
        let dir = temporaryDirectory()
        let out = dir + "/p"
        let r = try runProcess(hatBinary, ["solve", configPath("ek19-baseline.toml"), "--out", out], timeout: 300) { p in
            // Signal once the run holds its folder (the lock is taken before the solve starts).
            let deadline = Date().addingTimeInterval(60)
            while p.isRunning && !self.exists(out + "/.hat.lock") && Date() < deadline { usleep(5_000) }
            usleep(300_000)
            kill(p.processIdentifier, SIGUSR1)
        }
        XCTAssertEqual(r.status, SIGTERM, "ended by signal \(r.status): \(r.stderr)")
        XCTAssertEqual(leftovers(out), [], "a signal must leave no lock or temporaries")
        XCTAssertFalse(exists(out + "/summary.json"))
    }

    // 5. Checkpoints into a full file system: exit 4 at the first failed checkpoint, no temporaries, no
    // outputs, and the folders the run made removed again.
    func testCheckpointsIntoAFullFileSystemExitFourAndLeaveNothing() throws {
        let full = try fullFileSystem()
        let out = temporaryDirectory() + "/o"
        let r = try hat(["solve", twoCountry, "--checkpoint-dir", full + "/ck", "--out", out], timeout: 120)
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("checkpoint not written"), r.stderr)
        XCTAssertFalse(exists(full + "/ck"), "left \(contents(full + "/ck"))")
        XCTAssertFalse(exists(out), "left the output folder \(contents(out))")
    }

    // 6. A run killed while writing a checkpoint leaves its temporary; the resumed run removes it.
    func testResumeRemovesADeadRunsCheckpointTemporary() throws {
        let dir = temporaryDirectory()
        let ck = dir + "/ck"
        let killed = try runProcess(hatBinary, ["solve", twoCountry, "--checkpoint-dir", ck, "--out", dir + "/a"], timeout: 120,
                                    environment: ["HAT_SIGNAL_AT": "solve-checkpoint-written:KILL:3"])
        XCTAssertEqual(killed.status, SIGKILL, killed.stderr)
        XCTAssertEqual(contents(ck).filter { $0.contains(".tmp-") }.count, 1, "the kill should leave one temporary: \(contents(ck))")
        let resumed = try hat(["solve", twoCountry, "--checkpoint-dir", ck, "--resume", "--out", dir + "/a"], timeout: 120)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(contents(ck).filter { $0.contains(".tmp-") }, [], "the dead run's temporary is still there")
    }

    // 7. A summary or a list that cannot reach standard output is an I/O failure (exit 4), not success.
    func testInspectAndSweepListIntoAFullStandardOutputExitFour() throws {
        let dir = temporaryDirectory()
        try solvedBaseline(dir + "/s")
        let inspect = try runProcess(hatBinary, ["inspect", dir + "/s"], stdoutPath: "/dev/full")
        XCTAssertEqual(inspect.status, 4, inspect.stderr)
        let list = try runProcess(hatBinary, ["sweep", packageRoot.appendingPathComponent("jobs/sigma-gamma-small.toml").path, "--list"],
                                  stdoutPath: "/dev/full")
        XCTAssertEqual(list.status, 4, list.stderr)
    }

    // 8. and 11. A counterfactual or a planner without room for its outputs: exit 4, refused before the
    // computation, and no folder left behind; a refused --checkpoint-dir leaves no output folder.
    func testRefusalsForLackOfSpaceExitFourAndLeaveNoFolder() throws {
        let dir = temporaryDirectory()
        try solvedBaseline(dir + "/base")
        let full = try fullFileSystem()
        let cf = try hat(["counterfactual", twoCountry, "--baseline", dir + "/base", "--experiment", "unilateral",
                          "--factor", "0.9", "--out", full + "/cf"], timeout: 300)
        XCTAssertEqual(cf.status, 4, cf.stderr)
        XCTAssertFalse(exists(full + "/cf"), "left \(full)/cf")
        let planner = try hat(["planner", twoCountry, "--out", full + "/pl"], timeout: 120)
        XCTAssertEqual(planner.status, 4, planner.stderr)
        XCTAssertFalse(exists(full + "/pl"), "left \(full)/pl")
        FileManager.default.createFile(atPath: dir + "/ck", contents: Data())
        let ck = try hat(["solve", twoCountry, "--checkpoint-dir", dir + "/ck", "--out", dir + "/new"], timeout: 120)
        XCTAssertEqual(ck.status, 2, ck.stderr)
        XCTAssertFalse(exists(dir + "/new"), "left the empty output folder")
    }

    // 9. A folder left between the two renames of a commit (new solution.h5, old summary.json): inspect
    // warns; the next run into the folder completes the commit.
    func testInspectWarnsOfAFolderLeftBetweenTheRenamesOfACommit() throws {
        let dir = temporaryDirectory()
        let out = dir + "/s"
        try solvedBaseline(out)
        let killed = try runProcess(hatBinary, ["solve", twoCountry, "--out", out, "--set", "model.beta=0.921"], timeout: 120,
                                    environment: ["HAT_SIGNAL_AT": "commit-renamed:KILL"])
        XCTAssertEqual(killed.status, SIGKILL, killed.stderr)
        XCTAssertTrue(exists(out + "/.hat-commit"), "the kill between the renames should leave the journal: \(contents(out))")
        let inspect = try hat(["inspect", out])
        XCTAssertTrue(inspect.stdout.contains("unfinished commit"), inspect.stdout)
        XCTAssertTrue(inspect.stderr.contains("unfinished commit"), inspect.stderr)
        let again = try hat(["solve", twoCountry, "--out", out], timeout: 120)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(leftovers(out), [])
        XCTAssertFalse(try hat(["inspect", out]).stdout.contains("unfinished commit"))
    }

    // 10. SIGTERM at each moment of a commit: while the journal is staged nothing is committed (the
    // earlier outputs stay); once the journal is in place the commit completes before the process ends.
    // Either way no journal and no temporaries remain, and the two outputs come from one run.
    func testSIGTERMDuringACommitLeavesNoJournalAndNoMixture() throws {
        for point in ["commit-journal-staged", "commit-journal", "commit-renamed"] {
            let dir = temporaryDirectory()
            let out = dir + "/s"
            try solvedBaseline(out)
            let before = try readJSON(out + "/summary.json")["run_id"] as? String
            let r = try runProcess(hatBinary, ["solve", twoCountry, "--out", out, "--set", "model.beta=0.921"], timeout: 120,
                                   environment: ["HAT_SIGNAL_AT": "\(point):TERM"])
            XCTAssertEqual(r.status, SIGTERM, "\(point): \(r.stderr)")
            XCTAssertEqual(leftovers(out), [], "\(point): left \(leftovers(out))")
            let summaryRun = try readJSON(out + "/summary.json")["run_id"] as? String
            let h5 = try runProcess("/usr/bin/h5dump", ["-a", "/run_id", out + "/solution.h5"])
            XCTAssertTrue(h5.stdout.contains(summaryRun ?? "?"), "\(point): solution.h5 and summary.json from different runs")
            if point == "commit-journal-staged" {
                XCTAssertEqual(summaryRun, before, "a stop before the journal is in place commits nothing")
            } else {
                XCTAssertNotEqual(summaryRun, before, "\(point): a journal in place is completed")
            }
        }
    }

    // 12. `calibrate --resume` refused (no checkpoint) keeps the user's own empty checkpoints/ folder.
    func testRefusedCalibrationResumeKeepsTheUsersCheckpointsFolder() throws {
        let out = temporaryDirectory() + "/c"
        try FileManager.default.createDirectory(atPath: out + "/checkpoints", withIntermediateDirectories: true)
        let r = try hat(["calibrate", configPath("ek19-calibrate-small.toml"), "--out", out, "--resume"], timeout: 120)
        XCTAssertNotEqual(r.status, 0, r.stderr)
        XCTAssertTrue(exists(out + "/checkpoints"), "the user's checkpoints/ folder was deleted")
    }

    // 13. The baseline's closure_parameters must agree with the configuration (an edited beta is refused).
    func testEditedClosureParameterOfTheBaselineIsRefused() throws {
        let dir = temporaryDirectory()
        try solvedBaseline(dir + "/base")
        let path = dir + "/base/summary.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let range = text.range(of: "\"closure_parameters\"") else { return XCTFail("no closure_parameters in summary.json") }
        let tail = text[range.upperBound...]
        guard let value = tail.range(of: "0.92") else { return XCTFail("no beta in closure_parameters") }
        try (text[..<value.lowerBound] + "0.921" + text[value.upperBound...]).write(toFile: path, atomically: true, encoding: .utf8)
        let r = try hat(["counterfactual", twoCountry, "--baseline", dir + "/base", "--experiment", "unilateral",
                         "--factor", "0.9", "--out", dir + "/cf"], timeout: 300)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("closure_parameters.beta"), r.stderr)
        XCTAssertFalse(exists(dir + "/cf"))
    }

    // 14. A file name with a newline stays on the one error line (escaped), whatever the error's kind.
    func testFileNamesWithANewlineStayOnOneLine() throws {
        let dir = temporaryDirectory()
        let inspect = try hat(["inspect", dir + "/no\nsuch.h5"])
        XCTAssertEqual(inspect.status, 2)
        XCTAssertEqual(inspect.stderr.split(separator: "\n").count, 1, inspect.stderr)
        XCTAssertTrue(inspect.stderr.contains("no\\nsuch.h5"), inspect.stderr)
        let full = try fullFileSystem()
        let planner = try hat(["planner", twoCountry, "--out", full + "/a\nb"], timeout: 120)
        XCTAssertEqual(planner.status, 4, planner.stderr)
        XCTAssertEqual(planner.stderr.split(separator: "\n").count, 1, planner.stderr)
        // Values the argument parser refuses keep their reason after an escaped newline.
        for (option, value, reason) in [("--experiment", "x\ny", "not one of unilateral"), ("--ev-method", "a\nb", "author")] {
            var arguments = ["counterfactual", twoCountry, "--baseline", dir]
            arguments += option == "--experiment" ? [option, value] : ["--experiment", "unilateral", option, value]
            let r = try hat(arguments)
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(option) && r.stderr.contains(reason) && r.stderr.contains("\\n"), r.stderr)
        }
    }
}
