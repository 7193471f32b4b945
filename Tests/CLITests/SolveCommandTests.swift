import Foundation
import XCTest

final class SolveCommandTests: XCTestCase {
    let threeCountry = packageRoot.appendingPathComponent("configs/three-country.toml").path

    /// ARCHITECTURE.md: 1, 2 and 3 ranks (oversubscribed) give bitwise-identical numbers.
    func testRankCountDoesNotChangeAnyNumber() throws {
        var summaries: [[String: Any]] = []
        var texts: [String] = []
        for ranks in [1, 2, 3] {
            let out = temporaryDirectory()
            let r = try mpirun(ranks: ranks, ["solve", threeCountry, "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            var summary = try readJSON(out + "/summary.json")
            XCTAssertEqual(summary["ranks"] as? Int, ranks)
            XCTAssertEqual(summary["status"] as? String, "converged")
            summary["ranks"] = nil
            summary["wall_seconds"] = nil
            summary["peak_memory_mib"] = nil
            summaries.append(summary)
            texts.append(try summaryTextWithoutRunFields(out + "/summary.json"))
            try? FileManager.default.removeItem(atPath: out)
        }
        XCTAssertEqual(texts[0], texts[1])
        XCTAssertEqual(texts[0], texts[2])
        XCTAssertEqual(NSDictionary(dictionary: summaries[0]), NSDictionary(dictionary: summaries[2]))
        XCTAssertGreaterThan(texts[0].count, 500)
    }

    /// More ranks than countries: the idle rank still takes part in every collective (gathers, HDF5 writes).
    func testMoreRanksThanCountries() throws {
        let config = packageRoot.appendingPathComponent("configs/two-country.toml").path
        var texts: [String] = []
        for ranks in [1, 3] {
            let out = temporaryDirectory()
            let r = try mpirun(ranks: ranks, ["solve", config, "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            texts.append(try summaryTextWithoutRunFields(out + "/summary.json"))
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/solution.h5"))
            try? FileManager.default.removeItem(atPath: out)
        }
        XCTAssertEqual(texts[0], texts[1])
    }

    /// CONTRACT.md keys are present, and solution.h5 lists the documented datasets with attributes.
    func testOutputsFollowTheContract() throws {
        let out = temporaryDirectory()
        let r = try mpirun(ranks: 2, ["solve", threeCountry, "--out", out, "--set", "grid.assets=30"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // One log line per iteration on standard error.
        XCTAssertTrue(r.stderr.contains("iter   1  residual"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stopped: converged"), r.stderr)
        let s = try readJSON(out + "/summary.json")
        for key in ["status", "closure", "countries", "R", "beta", "wages", "trade_shares", "home_shares", "bond_demand",
                    "output", "residual_max", "iterations", "world_evaluations", "ranks", "wall_seconds", "version"] {
            XCTAssertNotNil(s[key], "summary.json lacks \(key)")
        }
        let shares = s["trade_shares"] as! [[Double]]
        for row in shares { XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-12) }
        let wages = s["wages"] as! [Double]
        XCTAssertEqual(wages.reduce(0, +) / Double(wages.count), 1, accuracy: 1e-14)
        XCTAssertLessThanOrEqual(s["residual_max"] as! Double, 1e-10)
        XCTAssertEqual(s["household_converged"] as? [Bool], [true, true, true])
        XCTAssertEqual(s["distribution_converged"] as? [Bool], [true, true, true])

        let dump = try runProcess("/usr/bin/h5dump", ["-H", out + "/solution.h5"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        for dataset in ["\"c\"", "\"a_next\"", "\"pi\"", "\"v\"", "\"distribution\"", "\"wages\"", "\"R\"", "\"beta\"",
                        "\"log_z\"", "\"transition\"", "\"trade_shares\"", "\"assets\"", "\"residuals\""] {
            XCTAssertTrue(dump.stdout.contains("DATASET \(dataset)"), "h5dump -H lacks \(dataset)")
        }
        XCTAssertTrue(dump.stdout.contains("ATTRIBUTE \"description\""))
        XCTAssertTrue(dump.stdout.contains("ATTRIBUTE \"configuration\""))
        XCTAssertTrue(dump.stdout.contains("DATASPACE  SIMPLE { ( 3, 3, 10, 30 ) / ( 3, 3, 10, 30 ) }"))
        try? FileManager.default.removeItem(atPath: out)
    }

    /// An iteration cap too small to converge: exit code 3, status not-converged, residuals and the last
    /// iterate recorded.
    func testIterationCapGivesExitCode3() throws {
        let out = temporaryDirectory()
        let r = try hat(["solve", threeCountry, "--out", out, "--set", "equilibrium.max_iterations=1",
                         "--set", "grid.assets=30"])
        XCTAssertEqual(r.status, 3, r.stderr)
        let s = try readJSON(out + "/summary.json")
        XCTAssertEqual(s["status"] as? String, "not-converged")
        let residuals = s["residuals"] as! [String: Double]
        XCTAssertEqual(residuals.count, 3)
        XCTAssertGreaterThan(s["residual_max"] as! Double, 1e-10)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/solution.h5"))
        let dump = try runProcess("/usr/bin/h5dump", ["-a", "/status", out + "/solution.h5"])
        XCTAssertTrue(dump.stdout.contains("not-converged"), dump.stdout)
        try? FileManager.default.removeItem(atPath: out)
    }

    /// The two-country reference through the command line and MPI, as the README's main job runs it.
    func testTwoCountryUnderMPI() throws {
        let out = temporaryDirectory()
        let config = packageRoot.appendingPathComponent("configs/two-country.toml").path
        let r = try mpirun(ranks: 2, ["solve", config, "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let s = try readJSON(out + "/summary.json")
        for rate in s["R"] as! [Double] { XCTAssertEqual(rate, 1.0141938127868286, accuracy: 1e-9) }
        let shares = s["trade_shares"] as! [[Double]]
        XCTAssertEqual(shares[0][1], 0.099516, accuracy: 5e-7)
        try? FileManager.default.removeItem(atPath: out)
    }
}
