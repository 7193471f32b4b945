import Foundation
import TestSupport
import XCTest

/// `hat calibrate --resume` writes the outputs of the uninterrupted run, every one of them and not only the
/// parameters: calibration.json and calibration.h5 compared value by value (doubles in round-trip
/// precision) apart from the run fields, parameters.csv and wage-guess.csv byte for byte.
final class CalibrationResumeTests: XCTestCase {
    static let config = configPath("ek19-calibrate-small.toml")

    /// An uninterrupted calibration of this class's own (no other test writes into it).
    static let reference: String = {
        let dir = temporaryDirectory()
        let r = try! hat(["calibrate", config, "--out", dir])
        precondition(r.status == 0, "reference calibration failed: \(r.stderr)")
        return dir
    }()

    /// A finished calibration resumed (`--resume`, and `--resume-if-checkpointed` as a requeued job runs it)
    /// reports the finished run again: the inner solve's residuals, reason and strategy come from the
    /// checkpoint, not from a new reporting evaluation.
    func testResumingAFinishedCalibrationWritesTheSameOutputs() throws {
        for flag in ["--resume", "--resume-if-checkpointed"] {
            let dir = temporaryDirectory() + "/copy"
            try FileManager.default.copyItem(atPath: Self.reference, toPath: dir)
            let r = try hat(["calibrate", Self.config, "--out", dir, flag])
            XCTAssertEqual(r.status, 0, "\(flag): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("resuming from"), "\(flag): \(r.stderr)")
            XCTAssertEqual(try readJSON(dir + "/calibration.json")["resumed_from"] as? String,
                           try CalibrationFolders.newestCheckpoint(Self.reference), flag)
            try CalibrationFolders.assertSameOutputs(dir, Self.reference, flag)
        }
    }

    /// SIGTERM inside an inner equilibrium (after the checkpoint of outer iteration 2) and inside the first
    /// Jacobian: exit 75, then `--resume` ends with the outputs of the uninterrupted run, counts included
    /// (an interrupted inner solve is done again after the resume and counted once).
    func testStoppedMidRunAndResumedWritesTheSameOutputs() throws {
        let cases: [(name: String, after: String, then: String?, delay: Double, phase: String)] = [
            // The inner solve's iterations are logged (HAT_INNER_LOG): its first line after the boundary
            // checkpoint comes before its Jacobian, so the stop lands inside the solve.
            ("inner equilibrium", "(iteration 2) written", "iter   0", 0, "(stopped at iteration 2)"),
            ("jacobian", "(iteration 0) written", nil, 0.8, "stopped at iteration 0"),
        ]
        for c in cases {
            let dir = temporaryDirectory()
            let log = temporaryDirectory() + "/stderr"
            XCTAssertTrue(FileManager.default.createFile(atPath: log, contents: nil))
            let stopped = try runProcess(hatBinary, ["calibrate", Self.config, "--out", dir], timeout: 600, stderrPath: log,
                                         environment: ["HAT_INNER_LOG": "1"]) { process in
                Thread.detachNewThread {
                    let deadline = Date().addingTimeInterval(300)
                    while process.isRunning && Date() < deadline {
                        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                        if let seen = text.range(of: c.after), c.then.map({ text[seen.upperBound...].contains($0) }) ?? true {
                            Thread.sleep(forTimeInterval: c.delay)
                            kill(process.processIdentifier, SIGTERM)
                            return
                        }
                        Thread.sleep(forTimeInterval: 0.01)
                    }
                }
            }
            let text = try String(contentsOfFile: log, encoding: .utf8)
            XCTAssertEqual(stopped.status, 75, "\(c.name): \(text)")
            XCTAssertTrue(text.contains(c.phase), "\(c.name): the stop did not land where intended: \(text)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/calibration.json"), c.name)
            let resumed = try hat(["calibrate", Self.config, "--out", dir, "--resume"])
            XCTAssertEqual(resumed.status, 0, "\(c.name): \(resumed.stderr)")
            // The checkpoint written at the stop is one more than the uninterrupted run wrote, so the name
            // of the last one is a run field here.
            try CalibrationFolders.assertSameOutputs(dir, Self.reference, c.name, runFields: ["\"checkpoint\""])
        }
    }
}

/// Progress lines of the long phases (a large calibration used to print nothing for minutes): the inner
/// equilibria's lines and evaluations and the Jacobian's columns, rate-limited by HAT_PROGRESS_SECONDS
/// (0 here: every line), and the output files unchanged by them.
final class CalibrationProgressTests: XCTestCase {
    func testLongPhasesReportProgressAndTheOutputsStayTheSame() throws {
        let dir = temporaryDirectory()
        let r = try runProcess(hatBinary, ["calibrate", CalibrationResumeTests.config, "--out", dir], timeout: 600,
                               environment: ["HAT_PROGRESS_SECONDS": "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        // The first inner equilibrium: its solver's iterations and its evaluations, before the first moments line.
        let firstMoments = try XCTUnwrap(lines.firstIndex { $0.contains("moments: max gap") }, r.stderr)
        XCTAssertTrue(lines[..<firstMoments].contains { $0.hasPrefix("hat:   inner: iter   1 ") }, r.stderr)
        XCTAssertTrue(lines[..<firstMoments].contains { $0.hasPrefix("hat:   inner equilibrium: 2 world evaluation(s) so far, ") },
                      r.stderr)
        // Every column of the one Jacobian (65 = 19 inner unknowns + 46 parameters), with a rate and the time left.
        let columns = lines.filter { $0.hasPrefix("hat:   jacobian columns ") }
        XCTAssertEqual(columns.count, 65, r.stderr)
        XCTAssertTrue(columns.first?.hasPrefix("hat:   jacobian columns 1/65, ") ?? false, columns.first ?? "")
        XCTAssertTrue(columns.last?.hasPrefix("hat:   jacobian columns 65/65, ") ?? false, columns.last ?? "")
        XCTAssertTrue(columns.allSatisfy { $0.contains(" columns/s, about ") && $0.hasSuffix(" s left") }, "\(columns)")
        // Printed on the root only: two ranks print each line once.
        let two = temporaryDirectory()
        let r2 = try runProcess("/usr/bin/mpirun", ["-np", "2", hatBinary, "calibrate", CalibrationResumeTests.config,
                                                    "--out", two], timeout: 600, environment: ["HAT_PROGRESS_SECONDS": "0"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(r2.stderr.split(separator: "\n").filter { $0.hasPrefix("hat:   jacobian columns ") }.count, 65)
        // Without the variable a short phase prints none of them (at most one line every 5 s).
        let quiet = try hat(["calibrate", CalibrationResumeTests.config, "--out", temporaryDirectory()])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertLessThan(quiet.stderr.split(separator: "\n").count, lines.count / 4, quiet.stderr)
        try CalibrationFolders.assertSameOutputs(dir, CalibrationResumeTests.reference, "progress lines")
    }
}

/// Output folders of `hat calibrate` compared value by value apart from the run fields.
enum CalibrationFolders {
    static func newestCheckpoint(_ dir: String) throws -> String? {
        try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints").filter { $0.hasPrefix("checkpoint-") }.max()
    }

    /// The fields of calibration.json that describe the run, not the calibration.
    static let jsonRunFields = ["\"run_id\"", "\"wall_seconds\"", "\"elapsed_seconds\"", "\"resumed_from\""]

    static func assertSameOutputs(_ dir: String, _ reference: String, _ label: String, runFields: [String] = [],
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        for name in ["parameters.csv", "wage-guess.csv"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)),
                           try Data(contentsOf: URL(fileURLWithPath: reference + "/" + name)), "\(label): \(name)",
                           file: file, line: line)
        }
        let skip = jsonRunFields + runFields
        func json(_ d: String) throws -> [String] {
            try String(contentsOfFile: d + "/calibration.json", encoding: .utf8).split(separator: "\n")
                .filter { l in !skip.contains { l.contains($0) } }.map(String.init)
        }
        if let d = firstDifferences(try json(dir), try json(reference)) {
            XCTFail("\(label): calibration.json differs from the uninterrupted run's:\n\(d)", file: file, line: line)
        }
        if let d = firstDifferences(try h5Text(dir + "/calibration.h5"), try h5Text(reference + "/calibration.h5")) {
            XCTFail("\(label): calibration.h5 differs from the uninterrupted run's:\n\(d)", file: file, line: line)
        }
    }

    /// Up to five differing lines (resumed, then uninterrupted), or nil when the texts are equal.
    static func firstDifferences(_ a: [String], _ b: [String]) -> String? {
        if a == b { return nil }
        var out: [String] = a.count == b.count ? [] : ["\(a.count) lines against \(b.count)"]
        for (x, y) in zip(a, b) where x != y && out.count < 5 { out.append("  \(x)\n  \(y)") }
        return out.joined(separator: "\n")
    }

    /// An HDF5 file as text (h5dump, every double in round-trip precision, one row a line) without its run
    /// fields: the root's `run_id` and `elapsed_seconds` attributes and the elapsed seconds (last column)
    /// of calibration/history.
    static func h5Text(_ path: String) throws -> [String] {
        let r = try runProcess("/usr/bin/h5dump", ["-m", "%.17g", "-w", "0", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        var out: [String] = []
        var skipUntil: String?, historyEnd: String?
        for raw in r.stdout.split(separator: "\n").dropFirst() {       // the first line names the file
            let line = String(raw)
            if let end = skipUntil { if line == end { skipUntil = nil }; continue }
            let body = line.drop { $0 == " " }
            let indent = String(repeating: " ", count: line.count - body.count)
            if body == "ATTRIBUTE \"run_id\" {" || body == "ATTRIBUTE \"elapsed_seconds\" {" {
                skipUntil = indent + "}"
                continue
            }
            if body == "DATASET \"history\" {" { historyEnd = indent + "}" } else if line == historyEnd { historyEnd = nil }
            if historyEnd != nil, body.hasPrefix("("), let index = body.range(of: "): ") {
                // "(i,0): iteration, gap, step, evaluations, elapsed[,]": keep the first four values.
                let values = body[index.upperBound...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                out.append(indent + body[..<index.upperBound] + values.prefix(historyColumns - 1).joined(separator: ", "))
                continue
            }
            out.append(line)
        }
        return out
    }

    /// iteration, max-abs gap, step, world evaluations, elapsed seconds.
    static let historyColumns = 5
}
