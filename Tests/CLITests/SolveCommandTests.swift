import Foundation
import TestSupport
import XCTest

final class SolveCommandTests: XCTestCase {
    let threeCountry = configPath("three-country.toml")

    /// ARCHITECTURE.md: 1, 2 and 3 ranks (oversubscribed) give bitwise-identical numbers.
    func testRankCountDoesNotChangeAnyNumber() throws {
        let runs = try summaries(config: threeCountry)
        var withoutRunFields: [[String: Any]] = []
        for run in runs {
            var summary = run.summary
            XCTAssertEqual(summary["ranks"] as? Int, run.ranks)
            XCTAssertEqual(summary["status"] as? String, "converged")
            summary["ranks"] = nil
            summary["wall_seconds"] = nil
            summary["peak_memory_mib"] = nil
            summary["run_id"] = nil
            // The layout over the ranks and its loads differ with the rank count by design.
            XCTAssertEqual((summary["rank_loads"] as? [Double])?.count, run.ranks)
            summary["layout"] = nil
            summary["load_imbalance"] = nil
            summary["rank_loads"] = nil
            // The run block: the same configuration and version; its id and rank count differ by design.
            var block = try XCTUnwrap(summary["run"] as? [String: Any])
            XCTAssertEqual(block["ranks"] as? Int, run.ranks)
            block["ranks"] = nil
            block["run_id"] = nil
            summary["run"] = block
            withoutRunFields.append(summary)
        }
        XCTAssertEqual(runs[0].text, runs[1].text)
        XCTAssertEqual(runs[0].text, runs[2].text)
        XCTAssertEqual(NSDictionary(dictionary: withoutRunFields[0]), NSDictionary(dictionary: withoutRunFields[2]))
        XCTAssertGreaterThan(runs[0].text.count, 500)
    }

    /// The datasets of solution.h5 that ranks write in parts, printed with every digit.
    func householdDump(_ path: String) throws -> String {
        var arguments = ["-m", "%.17g"]
        for d in ["/household/c", "/household/a_next", "/household/pi", "/household/v", "/distribution",
                  "/aggregates/trade_shares", "/prices/wages", "/prices/R"] { arguments += ["-d", d] }
        let r = try runProcess("/usr/bin/h5dump", arguments + [path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.replacingOccurrences(of: path, with: "FILE")
    }

    /// solution.h5 written by 2 and 3 ranks (each writing its own countries' rows) equals the 1-rank file,
    /// value for value; for every closure, so autarky runs under mpirun too. The distribution of every
    /// country sums to one (a rank writing at the wrong rows would leave a country at zero).
    func testSolutionFileIsRankInvariantForEveryClosure() throws {
        for closure in ["world-rate", "fixed-rate", "autarky"] {
            var dumps: [String] = [], texts: [String] = []
            for ranks in [1, 2, 3] {
                let out = temporaryDirectory()
                let r = try mpirun(ranks: ranks, ["solve", threeCountry, "--out", out, "--set", "grid.assets=30",
                                                  "--set", "equilibrium.closure=\(closure)", "--set", "equilibrium.rate=1.01"])
                XCTAssertEqual(r.status, 0, "\(closure), \(ranks) ranks: \(r.stderr)")
                dumps.append(try householdDump(out + "/solution.h5"))
                texts.append(try summaryTextWithoutRunFields(out + "/summary.json"))
                if ranks == 3 {
                    let d = try runProcess("/usr/bin/h5dump", ["-m", "%.17g", "-d", "/distribution", "-y", "-w", "0", out + "/solution.h5"])
                    // The dataset's own DATA block (its attributes follow with blocks of their own).
                    let parts = d.stdout.components(separatedBy: "DATA {")
                    let body = parts.count > 1 ? (parts[1].components(separatedBy: "}").first ?? "") : ""
                    let numbers = body.components(separatedBy: CharacterSet(charactersIn: ", \n\t}"))
                        .compactMap { Double($0) }
                    XCTAssertEqual(numbers.count, 3 * 10 * 30, "\(d.stdout.count) " + String(d.stdout.suffix(200)) + d.stderr)
                    guard numbers.count == 900 else { continue }
                    for c in 0..<3 { XCTAssertEqual(numbers[(c * 300)..<((c + 1) * 300)].reduce(0, +), 1, accuracy: 1e-9, "country \(c + 1)") }
                }
                try? FileManager.default.removeItem(atPath: out)
            }
            XCTAssertEqual(dumps[0], dumps[1], "\(closure): solution.h5, 1 vs 2 ranks")
            XCTAssertEqual(dumps[0], dumps[2], "\(closure): solution.h5, 1 vs 3 ranks")
            XCTAssertEqual(texts[0], texts[2], "\(closure): summary.json, 1 vs 3 ranks")
        }
    }

    /// Warm-started equilibria (households and distributions start from the previous evaluation) reach the
    /// cold root within tolerance and are themselves rank-invariant. A warm start makes the residual depend
    /// on the previous point by up to the inner tolerances, so it needs tight ones
    /// (docs/CONFIGURATION-GUIDE.md, "Warm starts").
    func testWarmStartedEquilibriumEqualsColdAndIsRankInvariant() throws {
        let tight = ["--set", "equilibrium.household_tolerance=1e-12", "--set", "equilibrium.distribution_tolerance=1e-13",
                     "--set", "equilibrium.jacobian_step=1e-6"]
        let warm = tight + ["--set", "equilibrium.warm_start=true"]
        let coldOut = temporaryDirectory()
        XCTAssertEqual(try mpirun(ranks: 1, ["solve", threeCountry, "--out", coldOut] + tight).status, 0)
        let cold = try readJSON(coldOut + "/summary.json")
        let runs = try summaries(config: threeCountry, extraArguments: warm)
        for run in runs {
            let s = run.summary
            XCTAssertEqual((s["R"] as! [Double])[0], (cold["R"] as! [Double])[0], accuracy: 1e-9)
            for (a, b) in zip(s["wages"] as! [Double], cold["wages"] as! [Double]) { XCTAssertEqual(a, b, accuracy: 1e-9) }
        }
        XCTAssertEqual(runs[0].text, runs[1].text)
        XCTAssertEqual(runs[0].text, runs[2].text)
        try? FileManager.default.removeItem(atPath: coldOut)
    }

    /// More ranks than countries: the idle rank still takes part in every collective (gathers, HDF5 writes).
    func testMoreRanksThanCountries() throws {
        let runs = try summaries(config: configPath("two-country.toml"), ranks: [1, 3])
        for run in runs { XCTAssertTrue(run.outputs.contains("solution.h5"), "\(run.ranks) ranks: \(run.outputs)") }
        XCTAssertEqual(runs[0].text, runs[1].text)
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

    /// The two-country reference through the command line and MPI, as the main job (scripts/main.sh) runs it.
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
