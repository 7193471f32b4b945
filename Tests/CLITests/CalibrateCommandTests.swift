import Foundation
import TestSupport
import XCTest

/// `hat calibrate` end to end on the reduced grid (configs/ek19-calibrate-small.toml): convergence and the
/// result files, bitwise invariance over ranks and groups, SIGKILL at chosen moments and `--resume`,
/// corrupted checkpoints, polite stops (SIGTERM/SIGUSR1 → exit 75) and bad input.
final class CalibrateCommandTests: XCTestCase {
    static let config = configPath("ek19-calibrate-small.toml")

    /// The uninterrupted calibration on one rank: its parameters.csv is the reference of every other run.
    static let reference: (dir: String, parameters: Data) = {
        let dir = temporaryDirectory()
        let r = try! hat(["calibrate", config, "--out", dir])
        precondition(r.status == 0, "reference calibration failed: \(r.stderr)")
        return (dir, try! Data(contentsOf: URL(fileURLWithPath: dir + "/parameters.csv")))
    }()

    func parameters(_ dir: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir + "/parameters.csv")) }

    func calibrate(ranks: Int, groups: Int = 1, out: String, extra: [String] = [], environment: [String: String] = [:],
                   onStart: ((Process) -> Void)? = nil) throws -> RunResult {
        try runProcess("/usr/bin/mpirun", ["-np", "\(ranks)", hatBinary, "calibrate", Self.config, "--out", out,
                                           "--groups", "\(groups)"] + extra,
                       timeout: 600, environment: environment, onStart: onStart)
    }

    func testConvergesAndWritesTheAuthorsFormats() throws {
        let dir = Self.reference.dir
        let json = try readJSON(dir + "/calibration.json")
        XCTAssertEqual(json["status"] as? String, "converged")
        XCTAssertLessThanOrEqual(try XCTUnwrap(json["max_abs_gap"] as? Double), 1e-8)
        XCTAssertEqual((json["parameters"] as? [Double])?.count, 46)
        XCTAssertEqual((json["parameter_names"] as? [String])?.count, 46)
        XCTAssertEqual((json["moments_model"] as? [Double])?.count, 46)
        for key in ["reason", "moments_data", "beta", "wages", "outer_iterations", "jacobians", "world_evaluations",
                    "ranks", "groups", "resumed_from", "wall_seconds", "version"] {
            XCTAssertNotNil(json[key], key)
        }
        let model = try XCTUnwrap(json["moments_model"] as? [Double]), data = try XCTUnwrap(json["moments_data"] as? [Double])
        XCTAssertLessThanOrEqual(zip(model, data).map { abs($0 - $1) }.max()!, 1e-8)
        let params = try String(contentsOfFile: dir + "/parameters.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(params.first, "guess")
        XCTAssertEqual(params.count, 47)
        let wages = try String(contentsOfFile: dir + "/wage-guess.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(wages.first, "guess")
        XCTAssertEqual(wages.count, 20)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/calibration.h5"))
        // The two files feed a solve directly: the same world and closure give back the data moments.
        let out = temporaryDirectory()
        let r = try hat(["solve", Self.config, "--out", out, "--set", "world.parameters=\"\(dir)/parameters.csv\"",
                         "--set", "equilibrium.initial_guess=\"\(dir)/wage-guess.csv\""])
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try readJSON(out + "/summary.json")
        let gravity = try XCTUnwrap(summary["gravity"] as? [String: Any])
        XCTAssertLessThan(try XCTUnwrap(gravity["max_abs_gap"] as? Double), 1e-7)
        // hat inspect reads the calibration file and its checkpoints.
        let inspect = try hat(["inspect", dir + "/calibration.h5"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("calibration"), inspect.stdout)
    }

    func testFinalParametersAreBitwiseTheSameForAnyRanksAndGroups() throws {
        let reference = Self.reference.parameters
        for (ranks, groups) in [(2, 1), (2, 2), (3, 3)] {
            let dir = temporaryDirectory()
            let r = try calibrate(ranks: ranks, groups: groups, out: dir)
            XCTAssertEqual(r.status, 0, "P=\(ranks) G=\(groups): \(r.stderr)")
            XCTAssertEqual(try parameters(dir), reference, "P=\(ranks) G=\(groups)")
            let json = try readJSON(dir + "/calibration.json")
            XCTAssertEqual(json["ranks"] as? Int, ranks)
            XCTAssertEqual(json["groups"] as? Int, groups)
        }
    }

    /// SIGKILL (real, to rank 0, at a chosen point: HAT_FAULT) at five moments, then --resume on another rank
    /// count or group count: the final parameters are bitwise those of the uninterrupted run.
    func testKillAtFiveMomentsAndResumeGivesTheSameBits() throws {
        let reference = Self.reference.parameters
        let cases: [(fault: String, resumeRanks: Int, resumeGroups: Int)] = [
            ("jacobian-batch:30", 3, 3),        // inside a Jacobian (a partial one is checkpointed)
            ("checkpoint-verified:3", 1, 1),     // inside a checkpoint write, before its rename
            ("checkpoint-renamed:4", 3, 1),      // right after a rename
            ("boundary:3", 1, 1),                // between outer iterations
            ("inner:4", 2, 2),                   // during the inner equilibrium
        ]
        for c in cases {
            let dir = temporaryDirectory()
            let killed = try calibrate(ranks: 2, out: dir, extra: ["--set", "calibration.checkpoint_every_seconds=0"],
                                       environment: ["HAT_FAULT": c.fault])
            XCTAssertNotEqual(killed.status, 0, "\(c.fault): the run was not killed")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/calibration.json"), c.fault)
            let resumed = try calibrate(ranks: c.resumeRanks, groups: c.resumeGroups, out: dir,
                                        extra: ["--set", "calibration.checkpoint_every_seconds=0", "--resume"])
            XCTAssertEqual(resumed.status, 0, "\(c.fault): \(resumed.stderr)")
            XCTAssertTrue(resumed.stderr.contains("resuming from"), c.fault)
            XCTAssertEqual(try parameters(dir), reference, c.fault)
            let json = try readJSON(dir + "/calibration.json")
            XCTAssertNotNil(json["resumed_from"] as? String, c.fault)
            // Only keep_checkpoints (2) checkpoints are left, and no temporary.
            let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")
            XCTAssertEqual(left.filter { $0.hasPrefix("checkpoint-") }.count, 2, "\(c.fault): \(left)")
            XCTAssertTrue(left.allSatisfy { !$0.contains(".tmp-") }, "\(c.fault): \(left)")
        }
    }

    func testCorruptedNewestCheckpointFallsBackAndNoneValidIsExitFour() throws {
        let reference = Self.reference.parameters
        for damage in ["truncate", "flip"] {
            let dir = temporaryDirectory()
            let killed = try hat(["calibrate", Self.config, "--out", dir], timeout: 600)
            XCTAssertEqual(killed.status, 0, killed.stderr)
            // Keep the run's checkpoints but drop its outputs and damage the newest checkpoint.
            let checkpoints = dir + "/checkpoints"
            let names = try FileManager.default.contentsOfDirectory(atPath: checkpoints).filter { $0.hasPrefix("checkpoint-") }.sorted()
            XCTAssertEqual(names.count, 2)
            let newest = checkpoints + "/" + names.last!
            var bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
            if damage == "truncate" { bytes = bytes.prefix(bytes.count / 3) } else { bytes[bytes.count / 2] ^= 0xff }
            try bytes.write(to: URL(fileURLWithPath: newest))
            let resumed = try hat(["calibrate", Self.config, "--out", dir, "--resume"])
            XCTAssertEqual(resumed.status, 0, "\(damage): \(resumed.stderr)")
            XCTAssertTrue(resumed.stderr.contains("skipping checkpoint \(names.last!)"), "\(damage): \(resumed.stderr)")
            XCTAssertTrue(resumed.stderr.contains("resuming from \(checkpoints)/\(names.first!)"), "\(damage): \(resumed.stderr)")
            XCTAssertEqual(try parameters(dir), reference, damage)
        }
        // No valid checkpoint at all: exit 4, one line.
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/checkpoints", withIntermediateDirectories: true)
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: dir + "/checkpoints/checkpoint-000003.h5"))
        let none = try hat(["calibrate", Self.config, "--out", dir, "--resume"])
        XCTAssertEqual(none.status, 4, none.stderr)
        XCTAssertTrue(none.stderr.contains("no valid checkpoint"), none.stderr)
        let empty = try hat(["calibrate", Self.config, "--out", temporaryDirectory(), "--resume"])
        XCTAssertEqual(empty.status, 4, empty.stderr)
    }

    func testCheckpointOfAnotherConfigurationIsRefused() throws {
        let dir = Self.reference.dir
        let before = try parameters(dir)
        let r = try hat(["calibrate", Self.config, "--out", dir, "--resume", "--set", "model.gamma=1.5"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("model.gamma"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        // Without --resume, a folder with checkpoints is not overwritten.
        let again = try hat(["calibrate", Self.config, "--out", dir])
        XCTAssertEqual(again.status, 2, again.stderr)
        XCTAssertTrue(again.stderr.contains("--resume"), again.stderr)
        XCTAssertEqual(try parameters(dir), before)
        // Run-control keys may change on a resume (a finished calibration is reported again, unchanged).
        let more = try hat(["calibrate", Self.config, "--out", dir, "--resume", "--set", "calibration.max_iterations=80"])
        XCTAssertEqual(more.status, 0, more.stderr)
        XCTAssertEqual(try parameters(dir), before)
    }

    /// SIGUSR1 to mpirun (forwarded to the ranks) and SIGTERM to one rank: every rank stops at the next safe
    /// point after a checkpoint, exit 75 within 60 s; the resume ends with the same bits.
    func testPoliteStopsWriteACheckpointExit75AndResumeIdentically() throws {
        let reference = Self.reference.parameters
        for target in ["mpirun", "rank"] {
            let dir = temporaryDirectory()
            var signalled: Date?
            let r = try calibrate(ranks: 2, out: dir) { process in
                DispatchQueue.global().asyncAfter(deadline: .now() + 2.5) {
                    if target == "mpirun" {
                        kill(process.processIdentifier, SIGUSR1)
                    } else if let pid = Self.childRank(of: process.processIdentifier) {
                        kill(pid, SIGTERM)
                    }
                    signalled = Date()
                }
            }
            let took = signalled.map { Date().timeIntervalSince($0) } ?? .nan
            XCTAssertEqual(r.status, 75, "\(target): \(r.stderr)")
            XCTAssertLessThan(took, 60, target)
            XCTAssertTrue(r.stderr.contains("stopped"), r.stderr)
            let inspect = try hat(["inspect", dir])
            XCTAssertEqual(inspect.status, 0, inspect.stderr)
            let resumed = try calibrate(ranks: 1, out: dir, extra: ["--resume"])
            XCTAssertEqual(resumed.status, 0, "\(target): \(resumed.stderr)")
            XCTAssertEqual(try parameters(dir), reference, target)
        }
    }

    /// A `hat` rank started by mpirun `parent` (its child, or a grandchild through a launcher daemon).
    static func childRank(of parent: Int32) -> Int32? {
        let r = try? runProcess("/usr/bin/pgrep", ["-f", "-P", "\(parent)", "calibrate"])
        if let pid = r?.stdout.split(separator: "\n").compactMap({ Int32($0) }).first { return pid }
        let all = try? runProcess("/usr/bin/pgrep", ["-f", "hat calibrate"])
        return all?.stdout.split(separator: "\n").compactMap { Int32($0) }.filter { $0 != parent }.last
    }

    func testBadInputIsExitTwoNamingTheKey() throws {
        let cases: [(args: [String], key: String)] = [
            (["calibrate", configPath("two-country.toml")], "world.data_dir"),
            (["calibrate", Self.config, "--set", "equilibrium.closure=\"world-rate\"", "--set", "equilibrium.initial_rate=1.01",
              "--set", "equilibrium.fixed_rate=1.01"], "equilibrium"),
            (["calibrate", Self.config, "--set", "calibration.shift_dummies=[0.1, 0.2]"], "calibration.shift_dummies"),
            (["calibrate", Self.config, "--set", "calibration.tolerance=0"], "calibration.tolerance"),
            (["calibrate", Self.config, "--set", "calibration.keep_checkpoints=0"], "calibration.keep_checkpoints"),
            (["calibrate", Self.config, "--set", "calibration.start=\"/nonexistent/start.csv\""], "calibration.start"),
            // A start that a shift makes infinite names the shift (exp(1e6) overflows every TFP).
            (["calibrate", Self.config, "--set", "calibration.shift_log_tfp=1e6"], "[calibration.shift_log_tfp]"),
            (["calibrate", Self.config, "--groups", "2"], "--groups"),
            (["calibrate", Self.config, "--groups", "0"], "--groups"),
            (["calibrate", Self.config, "--resume", "--resume-if-checkpointed"], "--resume-if-checkpointed"),
        ]
        for c in cases {
            let out = temporaryDirectory() + "/never"
            let r = try hat(c.args + ["--out", out])
            XCTAssertEqual(r.status, 2, "\(c.args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(c.key), "\(c.args): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(c.args) created the output folder")
        }
    }
}

/// `hat inspect` and `hat solve --checkpoint-dir`.
final class InspectAndSolveCheckpointTests: XCTestCase {
    func testInspectSaysWhatAFileIsAndRefusesOthers() throws {
        let out = temporaryDirectory()
        XCTAssertEqual(try hat(["solve", configPath("three-country.toml"), "--out", out]).status, 0)
        let r = try hat(["inspect", out + "/solution.h5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("hat equilibrium solution"), r.stdout)
        XCTAssertTrue(r.stdout.contains("world-rate"), r.stdout)
        for other in [configPath("three-country.toml"), out + "/summary.json", out + "/missing.h5"] {
            let bad = try hat(["inspect", other])
            XCTAssertEqual(bad.status, 2, "\(other): \(bad.stderr)")
            XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        }
        // An HDF5 file that hat did not write.
        let foreign = out + "/foreign.h5"
        XCTAssertEqual(try runProcess("/usr/bin/h5copy", ["-i", out + "/solution.h5", "-o", foreign, "-s", "prices", "-d", "prices"]).status, 0)
        XCTAssertEqual(try hat(["inspect", foreign]).status, 2)
    }

    /// A stop during a checkpointed solve: exit 75, a valid checkpoint, and a resume that converges to the
    /// same equilibrium (within the tolerance: the path after a resume differs).
    func testSolveCheckpointsStopAndResume() throws {
        let config = configPath("ek19-baseline.toml")
        let args = ["--set", "equilibrium.fixed_rate=1.02", "--set", "equilibrium.tolerance=1e-12"]
        let reference = temporaryDirectory()
        XCTAssertEqual(try hat(["solve", config, "--out", reference] + args).status, 0)
        let out = temporaryDirectory(), checkpoints = temporaryDirectory()
        let stopped = try runProcess(hatBinary, ["solve", config, "--out", out, "--checkpoint-dir", checkpoints] + args,
                                     timeout: 600) { p in
            DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { kill(p.processIdentifier, SIGTERM) }
        }
        XCTAssertEqual(stopped.status, 75, stopped.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/summary.json"))
        let files = try FileManager.default.contentsOfDirectory(atPath: checkpoints).filter { $0.hasPrefix("solve-") }
        XCTAssertFalse(files.isEmpty)
        let inspect = try hat(["inspect", checkpoints + "/" + files.sorted().last!])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("hat solve checkpoint"), inspect.stdout)
        let resumed = try hat(["solve", config, "--out", out, "--checkpoint-dir", checkpoints, "--resume"] + args)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from"), resumed.stderr)
        let a = try readJSON(reference + "/summary.json"), b = try readJSON(out + "/summary.json")
        let wa = try XCTUnwrap(a["wages"] as? [Double]), wb = try XCTUnwrap(b["wages"] as? [Double])
        for (x, y) in zip(wa, wb) { XCTAssertEqual(x, y, accuracy: 1e-9) }
        XCTAssertEqual(try XCTUnwrap(a["beta"] as? Double), try XCTUnwrap(b["beta"] as? Double), accuracy: 1e-9)
        // A different configuration is refused.
        let other = try hat(["solve", config, "--out", out, "--checkpoint-dir", checkpoints, "--resume", "--set", "model.gamma=1.5"] + args)
        XCTAssertEqual(other.status, 2, other.stderr)
        XCTAssertTrue(other.stderr.contains("model.gamma"), other.stderr)
    }
}

/// Defects found by a hostile review, kept fixed.
final class CalibrateReviewTests: XCTestCase {
    static let config = CalibrateCommandTests.config

    /// Killed after the final ("converged") checkpoint, before the outputs: the resume rebuilds them from
    /// the checkpointed x* with the same bits as the uninterrupted run (not by solving again).
    func testResumeAfterTheFinalCheckpointGivesTheSameOutputs() throws {
        let reference = CalibrateCommandTests.reference.dir
        let finalSequence = try FileManager.default.contentsOfDirectory(atPath: reference + "/checkpoints")
            .compactMap { Int($0.dropFirst("checkpoint-".count).prefix(6)) }.max()!
        let dir = temporaryDirectory()
        let killed = try runProcess(hatBinary, ["calibrate", Self.config, "--out", dir], timeout: 600,
                                    environment: ["HAT_FAULT": "checkpoint-renamed:\(finalSequence)"])
        XCTAssertNotEqual(killed.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/calibration.json"))
        let resumed = try hat(["calibrate", Self.config, "--out", dir, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        for name in ["parameters.csv", "wage-guess.csv"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)),
                           try Data(contentsOf: URL(fileURLWithPath: reference + "/" + name)), name)
        }
        let a = try readJSON(reference + "/calibration.json"), b = try readJSON(dir + "/calibration.json")
        XCTAssertEqual(a["moments_model"] as? [Double], b["moments_model"] as? [Double])
        XCTAssertEqual(a["beta"] as? Double, b["beta"] as? Double)
    }

    /// Only the file names the program writes count, and only regular files are opened: a FIFO named like
    /// a checkpoint must not hang the resume, and a stray name must not be pruned into or out of use.
    func testStrayFilesInTheCheckpointFolderAreIgnored() throws {
        let reference = CalibrateCommandTests.reference
        let dir = temporaryDirectory()
        let killed = try runProcess(hatBinary, ["calibrate", Self.config, "--out", dir], timeout: 600,
                                    environment: ["HAT_FAULT": "boundary:3"])
        XCTAssertNotEqual(killed.status, 0)
        let checkpoints = dir + "/checkpoints"
        XCTAssertEqual(mkfifo(checkpoints + "/checkpoint-999999.h5", 0o644), 0)
        let newest = try FileManager.default.contentsOfDirectory(atPath: checkpoints).filter { $0.hasPrefix("checkpoint-0") }.sorted().last!
        try FileManager.default.copyItem(atPath: checkpoints + "/" + newest, toPath: checkpoints + "/checkpoint-99.h5")
        let resumed = try hat(["calibrate", Self.config, "--out", dir, "--resume"], timeout: 300)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/parameters.csv")), reference.parameters)
        let left = try FileManager.default.contentsOfDirectory(atPath: checkpoints)
        XCTAssertTrue(left.contains("checkpoint-99.h5") && left.contains("checkpoint-999999.h5"), "\(left)")
        XCTAssertEqual(left.filter { $0.count == "checkpoint-000000.h5".count && $0 != "checkpoint-999999.h5" }.count, 2, "\(left)")
        let inspect = try hat(["inspect", checkpoints + "/checkpoint-999999.h5"], timeout: 30)
        XCTAssertEqual(inspect.status, 2, inspect.stderr)
    }

    /// A stop right after the start, while the configuration is still being read, is honoured at the first
    /// safe point: exit 75 with a checkpoint, not death by the signal.
    func testAnEarlyStopStillWritesACheckpoint() throws {
        let dir = temporaryDirectory()
        let r = try runProcess(hatBinary, ["calibrate", Self.config, "--out", dir], timeout: 300) { p in
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { kill(p.processIdentifier, SIGTERM) }
        }
        XCTAssertEqual(r.status, 75, r.stderr)
        let resumed = try hat(["calibrate", Self.config, "--out", dir, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/parameters.csv")), CalibrateCommandTests.reference.parameters)
    }

    /// The configuration check compares what input files hold: moved data resumes, edited data is refused.
    func testResumeComparesDataContentsNotPaths() throws {
        let copy = temporaryDirectory() + "/ek2002"
        try FileManager.default.copyItem(atPath: ekDirectory, toPath: copy)
        let dir = temporaryDirectory()
        _ = try runProcess(hatBinary, ["calibrate", Self.config, "--out", dir], timeout: 600, environment: ["HAT_FAULT": "boundary:2"])
        let moved = try hat(["calibrate", Self.config, "--out", dir, "--resume", "--set", "world.data_dir=\"\(copy)\""])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        let dir2 = temporaryDirectory()
        _ = try runProcess(hatBinary, ["calibrate", Self.config, "--out", dir2], timeout: 600, environment: ["HAT_FAULT": "boundary:2"])
        let labor = copy + "/ek-labor.csv"
        let text = try String(contentsOfFile: labor, encoding: .utf8)
        try text.replacingOccurrences(of: "0.0225", with: "0.0325").write(toFile: labor, atomically: true, encoding: .utf8)
        let edited = try hat(["calibrate", Self.config, "--out", dir2, "--resume", "--set", "world.data_dir=\"\(copy)\""])
        XCTAssertEqual(edited.status, 2, edited.stderr)
        XCTAssertTrue(edited.stderr.contains("world.data_dir"), edited.stderr)
    }

    /// Parameters far outside the data's range: exit 3 with outputs and no NaN, never a crash.
    func testAbsurdStartEndsAsNotConverged() throws {
        let dir = temporaryDirectory()
        let r = try hat(["calibrate", Self.config, "--out", dir, "--set", "calibration.shift_distance=1e308"])
        XCTAssertEqual(r.status, 3, r.stderr)
        let text = try String(contentsOfFile: dir + "/calibration.json", encoding: .utf8).lowercased()
        XCTAssertFalse(text.contains("nan") || text.contains("inf"), text)
        // hat solve: a checkpoint folder that is a file is bad input, before anything runs.
        let file = temporaryDirectory() + "/file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let solve = try hat(["solve", configPath("three-country.toml"), "--out", temporaryDirectory(), "--checkpoint-dir", file])
        XCTAssertEqual(solve.status, 2, solve.stderr)
    }
}
