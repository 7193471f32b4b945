import Foundation
import TestSupport
import XCTest

/// Issue 6 §2: the 24 defects found with hostile inputs and faults, one test each (numbered as in the issue).
/// Every test here failed against the code before the fix (checked by running this file with
/// HAT_BINARY pointing at a build of commit d0b036e).
final class HostileInputTests: XCTestCase {
    let twoCountry = packageRoot.appendingPathComponent("configs/two-country.toml").path
    let threeCountry = packageRoot.appendingPathComponent("configs/three-country.toml").path

    func contents(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    /// Exit 2, exactly one line naming `expected`, and no output folder created.
    func assertRefused(_ r: RunResult, naming expected: [String], outputs out: String, _ name: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): \(r.stderr)", file: file, line: line)
        for e in expected { XCTAssertTrue(r.stderr.contains(e), "\(name): '\(r.stderr)' lacks \(e)", file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(name): created \(out)", file: file, line: line)
    }

    // 1. Inputs that pass validation but are infeasible at the start: refused up front, naming the key.
    func test01InfeasibleStartsAreRefusedNotWrittenAsNaN() throws {
        let dir = temporaryDirectory()
        let gamma = try hat(["solve", threeCountry, "--out", dir + "/g", "--set", "model.gamma=1e6"], timeout: 60)
        assertRefused(gamma, naming: ["--set", "[model.gamma]", "overflow"], outputs: dir + "/g", "gamma 1e6")
        let rate = try hat(["solve", threeCountry, "--out", dir + "/r", "--set", "equilibrium.closure=fixed-rate",
                            "--set", "equilibrium.rate=5"], timeout: 60)
        assertRefused(rate, naming: ["[equilibrium.rate]", "NORTH", "borrowing limit"], outputs: dir + "/r", "rate 5")
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 2, 3. Sizes that cannot fit: refused at once with the estimate, before any allocation.
    func test02And03SizesThatCannotFitAreRefusedWithTheEstimate() throws {
        let dir = temporaryDirectory()
        for (key, value) in [("grid.assets", "100000000"), ("income.persistent_states", "100000")] {
            let r = try hat(["solve", twoCountry, "--out", dir + "/o", "--set", "\(key)=\(value)"], timeout: 60)
            assertRefused(r, naming: ["[\(key)]", "GiB", "available"], outputs: dir + "/o", key)
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 4. A configuration over 64 KiB fits in solution.h5 and reads back whole.
    func test04ConfigurationOver64KiBIsStored() throws {
        let dir = temporaryDirectory()
        let padding = (0..<1500).map { "# padding line \($0): a long comment to make the text larger than 64 KiB" }
        let text = try String(contentsOfFile: twoCountry, encoding: .utf8) + padding.joined(separator: "\n") + "\n"
        XCTAssertGreaterThan(text.utf8.count, 70_000)
        try text.write(toFile: dir + "/big.toml", atomically: true, encoding: .utf8)
        let r = try hat(["solve", dir + "/big.toml", "--out", dir + "/out"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let dump = try runProcess("/usr/bin/h5dump", ["-a", "/configuration", dir + "/out/solution.h5"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        XCTAssertTrue(dump.stdout.contains("padding line 1499"), "configuration attribute is cut short")
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 5. Standard error full: no crash, and the run still writes its outputs.
    func test05FullStandardErrorDoesNotStopTheRun() throws {
        let dir = temporaryDirectory()
        let r = try runProcess(hatBinary, ["solve", twoCountry, "--out", dir], timeout: 120, stderrPath: "/dev/full")
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(contents(dir), ["solution.h5", "summary.json"])
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 6. The outputs of one run appear together: an output name that cannot be replaced is found before
    //    anything is computed, and the earlier pair is left exactly as it was.
    func test06OutputsAppearTogetherOrNotAtAll() throws {
        let dir = temporaryDirectory()
        XCTAssertEqual(try hat(["solve", twoCountry, "--out", dir]).status, 0)
        let first = try readJSON(dir + "/summary.json")["run_id"] as? String
        let solutionBefore = try Data(contentsOf: URL(fileURLWithPath: dir + "/solution.h5"))
        try FileManager.default.removeItem(atPath: dir + "/summary.json")
        try FileManager.default.createDirectory(atPath: dir + "/summary.json", withIntermediateDirectories: false)
        let r = try hat(["solve", threeCountry, "--out", dir])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("summary.json"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/solution.h5")), solutionBefore,
                       "solution.h5 was replaced while summary.json could not be")
        // And a normal rerun pairs them again: the run id of summary.json is the attribute of solution.h5.
        try FileManager.default.removeItem(atPath: dir + "/summary.json")
        XCTAssertEqual(try hat(["solve", threeCountry, "--out", dir]).status, 0)
        let id = try readJSON(dir + "/summary.json")["run_id"] as? String
        XCTAssertNotNil(id); XCTAssertNotEqual(id, first)
        let dump = try runProcess("/usr/bin/h5dump", ["-a", "/run_id", dir + "/solution.h5"])
        XCTAssertTrue(dump.stdout.contains("\"\(id ?? "?")\""), dump.stdout)
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 7. A second run into a busy folder is refused with a clear message; the first run's outputs are its own.
    func test07SecondRunIntoBusyFolderIsRefused() throws {
        let dir = temporaryDirectory()
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: hatBinary)
        slow.arguments = ["solve", threeCountry, "--out", dir, "--set", "grid.assets=400"]
        slow.standardError = FileHandle.nullDevice
        try slow.run()
        var locked = false
        for _ in 0..<500 where !locked {
            locked = FileManager.default.fileExists(atPath: dir + "/.hat.lock")
            usleep(10_000)
        }
        XCTAssertTrue(locked)
        let second = try hat(["solve", twoCountry, "--out", dir])
        slow.waitUntilExit()
        XCTAssertEqual(second.status, 2, second.stderr)
        XCTAssertTrue(second.stderr.contains("in use by another hat run"), second.stderr)
        XCTAssertEqual(slow.terminationStatus, 0)
        XCTAssertEqual(try readJSON(dir + "/summary.json")["countries"] as? [String], ["NORTH", "SOUTH", "EAST"])
        XCTAssertEqual(contents(dir), ["solution.h5", "summary.json"])
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 8. No temporaries after a failure, after SIGTERM, or (cleaned by the next run) after SIGKILL.
    func test08NoTemporariesLeftBehind() throws {
        let dir = temporaryDirectory()
        // A failure: solution.h5 is a folder.
        try FileManager.default.createDirectory(atPath: dir + "/solution.h5", withIntermediateDirectories: false)
        let failed = try hat(["solve", twoCountry, "--out", dir])
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertEqual(contents(dir), ["solution.h5"], "temporaries left after a failure")
        try FileManager.default.removeItem(atPath: dir + "/solution.h5")
        // SIGTERM while running: the handler removes the lock file (and any temporaries).
        for sig in [SIGTERM, SIGKILL] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: hatBinary)
            p.arguments = ["solve", threeCountry, "--out", dir, "--set", "grid.assets=400"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            var waited = 0
            while !FileManager.default.fileExists(atPath: dir + "/.hat.lock") && waited < 2000 { usleep(5_000); waited += 1 }
            XCTAssertLessThan(waited, 2000, "the run never took the folder's lock")
            usleep(200_000)
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            if sig == SIGTERM {
                XCTAssertEqual(contents(dir).filter { $0.hasPrefix(".") }, [], "left behind after SIGTERM")
            }
        }
        // After SIGKILL, plant a stale temporary too: the next run removes both and writes its outputs.
        try "stale".write(toFile: dir + "/.solution.h5.tmp-1-dead", atomically: true, encoding: .utf8)
        XCTAssertEqual(try hat(["solve", twoCountry, "--out", dir]).status, 0)
        XCTAssertEqual(contents(dir), ["solution.h5", "summary.json"])
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 9. An output failure under mpirun: one error line, exit 4, nothing left behind, no hang.
    func test09OutputFailureUnderMPIPrintsOnce() throws {
        let dir = temporaryDirectory()
        let script = "ulimit -f 64; exec \(hatBinary) solve \(twoCountry) --out \(dir)"
        let r = try runProcess("/usr/bin/mpirun", ["-np", "2", "/bin/sh", "-c", script], timeout: 120)
        XCTAssertEqual(r.status, 4, r.stderr)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, r.stderr)
        XCTAssertTrue(errors.first?.contains("file-size limit") ?? false, r.stderr)
        XCTAssertFalse(r.stderr.contains("pwritev"), r.stderr)
        XCTAssertEqual(contents(dir), [])
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A copy of the EK data folder with `edit` applied to the named files' lines.
    func editedData(_ edits: [String: (inout [String]) -> Void], lineEnd: String = "\n") throws -> String {
        let dir = temporaryDirectory()
        for f in try FileManager.default.contentsOfDirectory(atPath: ekDirectory) {
            var lines = try String(contentsOfFile: ekDirectory + "/" + f, encoding: .utf8).split(separator: "\n").map(String.init)
            edits[f]?(&lines)
            try (lines.joined(separator: lineEnd) + lineEnd).write(toFile: dir + "/" + f, atomically: true, encoding: .utf8)
        }
        return dir
    }

    // 10. CRLF data files read like LF ones (same moments), and an error never quotes a whole file.
    func test10CRLFDataFilesAreRead() throws {
        let crlf = try editedData([:], lineEnd: "\r\n")
        let a = try hat(["gravity", "--data", crlf, "--json"]), b = try hat(["gravity", "--data", ekDirectory, "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout)
        try? FileManager.default.removeItem(atPath: crlf)
    }

    // 11. A NUL byte in a configuration is an error naming the line, not a silently shorter file.
    func test11NULByteInConfigurationIsRejected() throws {
        let dir = temporaryDirectory()
        var data = try Data(contentsOf: URL(fileURLWithPath: twoCountry))
        let at = data.range(of: Data("[grid]".utf8))!.lowerBound
        data.insert(0, at: at)
        try data.write(to: URL(fileURLWithPath: dir + "/nul.toml"))
        let r = try hat(["solve", dir + "/nul.toml", "--out", dir + "/out"])
        assertRefused(r, naming: ["nul.toml", "NUL byte", "line"], outputs: dir + "/out", "NUL")
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Issue 11's hostile run: a NUL written as a TOML escape cut the string where the parser handed it over
    /// ("off\u0000x" ran as "off"); country names carrying control characters or separators broke the
    /// one-line log and the layout description.
    func test11bEscapedNULAndUnprintableNamesAreRejected() throws {
        let dir = temporaryDirectory()
        let set = try hat(["solve", threeCountry, "--out", dir + "/a", "--set", "parallel.grid_blocks=\"off\\u0000x\""])
        assertRefused(set, naming: ["--set", "parallel.grid_blocks", "NUL"], outputs: dir + "/a", "escaped NUL in --set")
        var text = try String(contentsOfFile: threeCountry, encoding: .utf8)
        text += "\n[parallel]\ngrid_blocks = \"on\\u0000garbage\"\n"
        try text.write(toFile: dir + "/nul.toml", atomically: true, encoding: .utf8)
        let file = try hat(["solve", dir + "/nul.toml", "--out", dir + "/b"])
        assertRefused(file, naming: ["nul.toml", "NUL", "line"], outputs: dir + "/b", "escaped NUL in the file")
        for name in ["A;rank 9", "B\\n", "C,D", "E\\\"F"] {
            let r = try hat(["solve", threeCountry, "--out", dir + "/c", "--set", "world.countries=[\"\(name)\", \"Y\", \"Z\"]"])
            assertRefused(r, naming: ["world.countries", "entry 1"], outputs: dir + "/c", "country name \(name)")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 12. Degenerate data: exit 2 naming the file and column, never NaN statistics with exit 0.
    func test12DegenerateGravityDataIsRejected() throws {
        let huge = try editedData(["ek-data.csv": { $0[2] = "1e308" + $0[2].drop { $0 != "," } }])
        let same = try editedData(["ek-data.csv": { lines in
            for k in 1..<lines.count where !lines[k].hasPrefix("0.0,") && !lines[k].hasPrefix("0,") {
                lines[k] = "0.5" + lines[k].drop { $0 != "," }
            }
        }])
        for (name, dir) in [("1e308 cell", huge), ("identical values", same)] {
            let r = try hat(["gravity", "--data", dir])
            XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("ek-data.csv") && r.stderr.contains("column trade"), "\(name): \(r.stderr)")
            XCTAssertFalse(r.stdout.contains("nan") || r.stdout.contains("inf"), name)
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    // 13. Collinear regressors: exit 2 naming the regressor and its file.
    func test13CollinearDataNamesTheRegressor() throws {
        func copyEC(_ lines: inout [String]) {
            let header = lines[0].split(separator: ",").map(String.init)
            let ec = header.firstIndex(of: "europeancom")!, efta = header.firstIndex(of: "efta")!
            for k in 1..<lines.count {
                var cells = lines[k].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                cells[efta] = cells[ec]
                lines[k] = cells.joined(separator: ",")
            }
        }
        let dir = try editedData(["ek-language.csv": copyEC, "ek-cntryfix.csv": copyEC])
        let r = try hat(["gravity", "--data", dir])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("ek-language.csv") && r.stderr.contains("efta") && r.stderr.contains("collinear"), r.stderr)
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 14, 15. Repetitions outside 1...1000: exit 2 at once (no out-of-bounds read, no endless loop).
    func test14And15BenchRepetitionsAreValidated() throws {
        for value in ["0", "-3"] {
            let r = try hat(["bench", "--repetitions=\(value)", "--json", temporaryDirectory() + "/b.json"], timeout: 30)
            XCTAssertEqual(r.status, 2, "--repetitions \(value): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--repetitions"), r.stderr)
        }
    }

    // 16. A bench output that cannot be written: a clear error naming the path, no leftover temporary.
    func test16BenchOutputFailureIsClean() throws {
        let dir = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/taken.json", withIntermediateDirectories: false)
        let r = try hat(["bench", "--repetitions", "1", "--json", dir + "/taken.json"], timeout: 300)
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("taken.json"), r.stderr)
        XCTAssertEqual(contents(dir), ["taken.json"])
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 17, 18. --equilibrium is validated before any benchmark runs; --set without it is an error.
    func test17And18BenchArgumentsAreValidatedFirst() throws {
        // With 1000 repetitions the benchmarks take minutes: an answer within the timeout means nothing ran.
        let missing = try hat(["bench", "--repetitions", "1000", "--equilibrium", "/nonexistent.toml"], timeout: 30)
        XCTAssertEqual(missing.status, 2, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("/nonexistent.toml"), missing.stderr)
        let stray = try hat(["bench", "--repetitions", "1000", "--set", "model.gamma=2"], timeout: 30)
        XCTAssertEqual(stray.status, 2, stray.stderr)
        XCTAssertTrue(stray.stderr.contains("--equilibrium"), stray.stderr)
    }

    // 19. A bad --out leaves no folders behind.
    func test19BadOutputFolderLeavesNothing() throws {
        let dir = temporaryDirectory()
        let long = String(repeating: "x", count: 300)
        let r = try hat(["solve", twoCountry, "--out", dir + "/a/b/" + long])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(contents(dir), [], "created folders left behind")
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 20, 21. A bad --set value is blamed on --set; a value with a newline is rejected, not cut short.
    func test20And21OverrideErrorsNameTheOverride() throws {
        let dir = temporaryDirectory()
        let bad = try hat(["solve", twoCountry, "--out", dir + "/o", "--set", "model.gamma=-2"])
        assertRefused(bad, naming: ["--set", "[model.gamma]"], outputs: dir + "/o", "bad value")
        XCTAssertFalse(bad.stderr.contains("two-country.toml"), bad.stderr)
        let newline = try hat(["solve", twoCountry, "--out", dir + "/o", "--set", "model.gamma=1.2\nmodel.beta=0.5"])
        assertRefused(newline, naming: ["--set", "model.gamma", "one line"], outputs: dir + "/o", "newline")
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 22. data_dir and parameters errors name the configuration (or --set) and the key; a file is not "missing".
    func test22DataWorldErrorsNameTheKey() throws {
        let dir = temporaryDirectory()
        let config = packageRoot.appendingPathComponent("configs/ek19-baseline.toml").path
        let file = try hat(["solve", config, "--out", dir + "/o", "--set", "world.data_dir=\"\(ekDirectory)/ek-data.csv\""])
        assertRefused(file, naming: ["--set", "[world.data_dir]", "is a file"], outputs: dir + "/o", "data_dir file")
        XCTAssertFalse(file.stderr.contains("does not exist"), file.stderr)
        let params = try hat(["solve", config, "--out", dir + "/o", "--set", "world.parameters=\"\(dir)/none.csv\""])
        assertRefused(params, naming: ["--set", "[world.parameters]", "none.csv"], outputs: dir + "/o", "parameters")
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 23. A bad wage-guess file is blamed on initial_guess and named.
    func test23BadWageGuessFileIsNamed() throws {
        let dir = temporaryDirectory()
        let guess = sharedData.appendingPathComponent("hat-calibration/current-wage-guess-145-30-725.csv").path
        var lines = try String(contentsOfFile: guess, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[3] = "-0.5"
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/wages.csv", atomically: true, encoding: .utf8)
        let config = packageRoot.appendingPathComponent("configs/ek19-baseline.toml").path
        let r = try hat(["solve", config, "--out", dir + "/o", "--set", "equilibrium.initial_guess=\"\(dir)/wages.csv\""])
        assertRefused(r, naming: ["[equilibrium.initial_guess]", "wages.csv", "row 4"], outputs: dir + "/o", "guess")
        XCTAssertFalse(r.stderr.contains("initial_wages"), r.stderr)
        try? FileManager.default.removeItem(atPath: dir)
    }

    // 24. hat gravity fails (exit 4) when its standard output cannot be written.
    func test24GravityReportsAnUnwritableStandardOutput() throws {
        let r = try runProcess(hatBinary, ["gravity", "--data", ekDirectory], timeout: 60, stdoutPath: "/dev/full")
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("standard output"), r.stderr)
    }
}
