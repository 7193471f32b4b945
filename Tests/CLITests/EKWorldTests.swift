import Foundation
import TestSupport
import XCTest

/// Issue 3: the Eaton–Kortum world through the command line.
final class EKWorldTests: XCTestCase {
    func testGravityCommandReproducesTheDataMoments() throws {
        let r = try hat(["gravity", "--data", ekDirectory, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let dist = j["distance"] as! [Double]
        XCTAssertEqual(dist.count, EKReference.distance.count)
        for (a, b) in zip(dist, EKReference.distance) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        let dummies = j["dummies"] as! [String: Double]
        for (name, value) in zip(EKReference.dummyNames, EKReference.dummies) {
            XCTAssertEqual(dummies[name] ?? .nan, value, accuracy: 1e-6, name)
        }
        let S = j["S"] as! [String: Double], tm = j["theta_m"] as! [String: Double]
        for (k, name) in EKReference.countries.enumerated() {
            XCTAssertEqual(S[name]!, EKReference.S[k], accuracy: 1e-6, name)
            XCTAssertEqual(tm[name]!, EKReference.thetaM[k], accuracy: 1e-6, name)
        }
        XCTAssertEqual(j["r_squared"] as! Double, EKReference.rSquared, accuracy: 5e-5)
        XCTAssertNotNil(j["standard_errors"])
        // The table form works too.
        let table = try hat(["gravity", "--data", ekDirectory])
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.stdout.contains("USA"))
    }

    /// HAT-SPEC §10 item 6 on 1, 2 and 3 ranks: markets clear to 1e-10, wages and β agree with the committed
    /// file, the model's gravity moments match the data's, and the numbers do not depend on the rank count.
    func checkCalibratedWorld(config: String, wageFile: String) throws {
        let guess = try String(contentsOf: sharedData.appendingPathComponent("hat-calibration/\(wageFile)"), encoding: .utf8)
            .split(separator: "\n").dropFirst().compactMap { Double($0) }
        XCTAssertEqual(guess.count, 19)
        let runs = try summaries(config: configPath(config))
        for run in runs {
            let s = run.summary
            XCTAssertEqual(s["status"] as? String, "converged")
            XCTAssertLessThanOrEqual(s["residual_max"] as! Double, 1e-10)
            let wages = s["wages"] as! [Double]
            for k in 0..<18 { XCTAssertEqual(wages[k], guess[k], accuracy: 1e-6, "\(config) wage \(k + 1)") }
            XCTAssertEqual(wages[18], 19 - guess[0..<18].reduce(0, +), accuracy: 1e-6)
            XCTAssertEqual(s["beta"] as! Double, guess[18], accuracy: 1e-6)
            let gravity = s["gravity"] as! [String: Any]
            XCTAssertLessThanOrEqual(gravity["max_abs_gap"] as! Double, 1e-4)
        }
        XCTAssertEqual(runs[0].text, runs[1].text, "\(config): 1 vs 2 ranks")
        XCTAssertEqual(runs[0].text, runs[2].text, "\(config): 1 vs 3 ranks")
    }

    func testBaselineEquilibrium() throws {
        try checkCalibratedWorld(config: "ek19-baseline.toml", wageFile: "current-wage-guess-145-30-725.csv")
    }

    func testLogEquilibrium() throws {
        try checkCalibratedWorld(config: "ek19-log.toml", wageFile: "current-wage-guess-log-24.csv")
    }

    /// Defects made in a temporary copy of the data: exit code 2, one line naming file, row and column.
    func testMalformedDataFiles() throws {
        typealias Edit = (inout [String]) -> Void
        func replaceCell(_ line: Int, _ column: Int, _ value: String) -> Edit {
            { lines in
                var cells = lines[line - 1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                cells[column] = value
                lines[line - 1] = cells.joined(separator: ",")
            }
        }
        let cases: [(String, String, Edit, String, String)] = [
            ("wrong column name", "ek-data.csv", { $0[0] = $0[0].replacingOccurrences(of: "trade", with: "trades") }, "row 1", "trades"),
            ("non-numeric cell", "ek-data.csv", replaceCell(5, 1, "far"), "row 5", "column distance"),
            ("index out of range", "ek-data.csv", replaceCell(7, 10, "20"), "row 7", "column importer"),
            ("duplicated pair", "ek-data.csv", replaceCell(4, 11, "2"), "row 4", "column exporter"),
            ("missing pair", "ek-data.csv", { $0.remove(at: 30) }, "row 31", "column importer"),
            ("wrong cell count", "ek-data.csv", { $0[9] += ",1" }, "row 10", "cells"),
            ("diagonal trade not zero", "ek-data.csv", replaceCell(2, 0, "0.5"), "row 2", "column trade"),
            ("bin and distbin disagree", "ek-cntryfix.csv", replaceCell(6, 8, "3.0"), "row 6", "column distbin"),
            ("dummy not 0/1", "ek-language.csv", replaceCell(12, 2, "2"), "row 12", "column efta"),
            ("language row missing", "ek-language.csv", { $0.removeLast() }, "row 343", "column sharedlanguage"),
            ("non-positive labour", "ek-labor.csv", replaceCell(4, 0, "-0.1"), "row 4", "column L"),
            ("cntryfix disagrees with data", "ek-cntryfix.csv", replaceCell(3, 1, "1"), "row 3", "column border"),
        ]
        for (name, file, edit, row, column) in cases {
            let dir = temporaryDirectory()
            for f in try FileManager.default.contentsOfDirectory(atPath: ekDirectory) {
                try FileManager.default.copyItem(atPath: ekDirectory + "/" + f, toPath: dir + "/" + f)
            }
            let path = dir + "/" + file
            var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            let before = lines
            edit(&lines)
            XCTAssertNotEqual(lines, before, "\(name): edit did not apply")
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let r = try hat(["gravity", "--data", dir])
            XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(file), "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(row + ",") || r.stderr.contains(row + ":"), "\(name): '\(r.stderr)' lacks \(row)")
            XCTAssertTrue(r.stderr.contains(column), "\(name): '\(r.stderr)' lacks \(column)")
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// A configuration pointing at broken data or a broken parameter file fails before any computation.
    func testDataWorldConfigurationErrors() throws {
        let base = try String(contentsOf: packageRoot.appendingPathComponent("configs/ek19-baseline.toml"), encoding: .utf8)
            .replacingOccurrences(of: "../../shared/data", with: sharedData.path)
            .replacingOccurrences(of: "dir = \"../out/ek19-baseline\"", with: "dir = \"out\"")
        let dir = temporaryDirectory()
        let short = dir + "/short.csv"
        let params = try String(contentsOf: sharedData.appendingPathComponent("hat-calibration/current-guess-145-30-725.csv"), encoding: .utf8)
        try params.split(separator: "\n").dropLast().joined(separator: "\n").write(toFile: short, atomically: true, encoding: .utf8)
        let cases: [(String, String, String)] = [
            ("missing parameters", base.replacingOccurrences(of: "parameters = ", with: "# parameters = "), "[world.parameters]"),
            ("explicit and data world", base.replacingOccurrences(of: "[world]\n", with: "[world]\ntfp = [1.0]\n"), "[world.tfp]"),
            ("short parameter vector", base.replacingOccurrences(of: sharedData.path + "/hat-calibration/current-guess-145-30-725.csv", with: short), "short.csv: row 47"),
            ("missing data folder", base.replacingOccurrences(of: sharedData.path + "/ek2002", with: dir + "/nowhere"), "nowhere"),
            ("bad guess file", base.replacingOccurrences(of: sharedData.path + "/hat-calibration/current-wage-guess-145-30-725.csv", with: short), "[equilibrium.initial_guess]"),
        ]
        for (name, text, expected) in cases {
            XCTAssertNotEqual(text, base, name)
            let config = dir + "/bad.toml"
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let r = try hat(["solve", config])
            XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(name): '\(r.stderr)' lacks \(expected)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"), "\(name): wrote output")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
