import Foundation
import TestSupport
import XCTest

/// `hat solve` and `hat counterfactual` on a firm world (`[firms]`): the Appendix world of FIRMS-SPEC, the
/// same bits on 1, 2 and 3 ranks, hat algebra against the re-solve, and bad input.
final class FirmWorldCommandTests: XCTestCase {
    let config = configPath("melitz-appendix.toml")

    func testAppendixWorldOnOneTwoAndThreeRanks() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        var texts: [String] = []
        for ranks in [1, 2, 3] {
            let out = base + "/r\(ranks)"
            let r = ranks == 1 ? try hat(["solve", config, "--out", out]) : try mpirun(ranks: ranks, ["solve", config, "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            texts.append(try summaryTextWithoutRunFields(out + "/summary.json"))
        }
        XCTAssertEqual(texts[1], texts[0]); XCTAssertEqual(texts[2], texts[0])
        let s = try readJSON(base + "/r1/summary.json")
        XCTAssertEqual(s["status"] as? String, "converged")
        let w = try XCTUnwrap(s["wages"] as? [Double])
        XCTAssertEqual(w.reduce(0, +) / 3, 1, accuracy: 1e-14)
        for (x, y) in zip(w.map { $0 / w[2] }, [0.702636382106, 0.814229716519, 1]) { XCTAssertEqual(x, y, accuracy: 1e-11) }
        let shares = try XCTUnwrap(s["trade_shares"] as? [[Double]])
        for (n, y) in [0.843605765794, 0.886092422157, 0.950185664894].enumerated() { XCTAssertEqual(shares[n][n], y, accuracy: 1e-11) }
        let gains = try XCTUnwrap(s["gains_from_trade"] as? [Double])
        for (x, y) in zip(gains, [1.034599090114, 1.024481677265, 1.010271973554]) { XCTAssertEqual(x, y, accuracy: 1e-11) }
        let real = try XCTUnwrap(s["real_wages"] as? [Double])
        for (x, y) in zip(real, [0.132527178585, 0.191304587392, 0.273225746876]) { XCTAssertEqual(x, y, accuracy: 1e-11) }
        let firms = try XCTUnwrap(s["firms"] as? [String: Any])
        for (x, y) in zip(try XCTUnwrap(firms["entry_mass"] as? [Double]), [0.15, 0.25, 0.5625]) { XCTAssertEqual(x, y, accuracy: 1e-14) }
        let elasticity = try XCTUnwrap(firms["elasticity"] as? [String: Any])
        XCTAssertEqual(elasticity["total"] as? Double ?? 0, -5, accuracy: 1e-12)
        XCTAssertEqual(elasticity["intensive"] as? Double ?? 0, -3, accuracy: 1e-12)
        let labour = try XCTUnwrap(firms["labour"] as? [String: Any])
        for x in try XCTUnwrap(labour["entry"] as? [Double]) { XCTAssertEqual(x, 1 / (4 * 5.0 / 3), accuracy: 1e-13) }
    }

    /// A global 10 % cut and a tariff: the re-solve and exact hat algebra agree to 1e-12, and without tariffs
    /// the welfare change is λ̂_nn^(−1/k) (ACR).
    func testCounterfactualsByResolveAndHatAlgebraAgree() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        XCTAssertEqual(try hat(["solve", config, "--out", base]).status, 0)
        for (name, extra) in [("global", ["--experiment", "global"]), ("tariff", ["--experiment", "tariff", "--country", "A", "--tariff", "0.2"]),
                              ("fixed", ["--experiment", "unilateral", "--fixed-cost-factor", "0.7"])] {
            let out = base + "/" + name
            let r = try mpirun(ranks: 2, ["counterfactual", config, "--baseline", base, "--out", out] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let c = try readJSON(out + "/counterfactual.json")
            let change = try XCTUnwrap(c["welfare_change"] as? [Double])
            let hatAlgebra = try XCTUnwrap(c["hat_algebra"] as? [String: Any])
            for (x, y) in zip(try XCTUnwrap(hatAlgebra["welfare_change"] as? [Double]), change) { XCTAssertEqual(x, y, accuracy: 1e-12, name) }
            if name != "tariff" {
                for (x, y) in zip(try XCTUnwrap(c["acr_welfare_change"] as? [Double]), change) { XCTAssertEqual(x, y, accuracy: 1e-12, name) }
            } else {
                XCTAssertNil(c["acr_welfare_change"], "ACR does not hold with tariff revenue")
            }
            if name == "global" { for x in change { XCTAssertGreaterThan(x, 1) } }
        }
    }

    /// `hat calibrate` on the Eaton–Kortum firm world: the 46 moments recovered, and the pairs where one f_X
    /// breaks selection into exporting named, so the run ends not converged (exit 3) with its report.
    func testGravityAsAGuideOnTheEatonKortumData() throws {
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try hat(["calibrate", configPath("melitz-ek19.toml"), "--out", out, "--set", "world.data_dir=\"\(ekDirectory)\""])
        XCTAssertEqual(r.status, 3, r.stderr)
        let c = try readJSON(out + "/calibration.json")
        XCTAssertEqual(c["status"] as? String, "not-converged")
        XCTAssertLessThan(c["max_moment_gap"] as? Double ?? 1, 1e-9)
        XCTAssertEqual((c["data_moments"] as? [Double])?.count, 48)
        XCTAssertTrue((c["selection_violations"] as? [String] ?? []).contains("BEL->FRA"))
        let solve = try hat(["solve", configPath("melitz-ek19.toml"), "--out", out + "/solve", "--set", "world.data_dir=\"\(ekDirectory)\""])
        XCTAssertEqual(solve.status, 2, solve.stderr)
        XCTAssertTrue(solve.stderr.contains("selection into exporting"), solve.stderr)
        let bad = try hat(["calibrate", configPath("melitz-ek19.toml"), "--out", out + "/bad", "--set", "world.data_dir=\"\(ekDirectory)\"",
                           "--set", "firms.lower_bound=[1]"])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("firms.lower_bound"), bad.stderr)
    }

    /// Bad input: exit 2, one line naming the key or option, nothing written.
    func testBadInputNamesTheKey() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let cases: [([String], String)] = [
            (["--set", "firms.sigma=1"], "firms.sigma"),
            (["--set", "firms.shape=2.5"], "firms.shape"),
            (["--set", "firms.distribution=\"weibull\""], "firms.distribution"),
            // HAT's households need the household model's tables.
            (["--set", "firms.households=\"hat\""], "[model] missing section"),
            (["--set", "firms.entry=\"fixed\""], "firms.entry_mass"),
            (["--set", "firms.lower_bound=[0.25, 0.3]"], "firms.lower_bound"),
            (["--set", "firms.lognormal_sigma=0.5"], "firms.lognormal_sigma"),
            (["--set", "firms.upper_bound=[1, 1, 1]"], "firms.upper_bound"),
            (["--set", "firms.fixed_cost=[[1, 2], [2, 1]]"], "firms.fixed_cost"),
            (["--set", "firms.fixed_cost=1.5"], "firms.domestic_fixed_cost"),
            (["--set", "firms.domestic_fixed_cost=[1, 1, 1]"], "firms.domestic_fixed_cost"),
            (["--set", "firms.differentiated_share=1.5"], "firms.differentiated_share"),
            (["--set", "firms.entry_cost=[1, -1, 1]"], "firms.entry_cost"),
            (["--set", "firms.colour=1"], "firms.colour"),
            (["--set", "world.tfp=[1, 1, 1]"], "world.tfp"),
            (["--set", "model.gamma=1.5"], "model"),
            (["--set", "world.trade_costs=[[1, 0.9, 1], [1, 1, 1], [1, 1, 1]]"], "world.trade_costs"),
            (["--set", "world.tariffs=[[0, -0.1, 0], [0, 0, 0], [0, 0, 0]]"], "world.tariffs"),
            // Export fixed costs below the domestic ones: selection into exporting fails.
            (["--set", "firms.fixed_cost=[[1, 0.2, 2], [1.6, 1, 1.7], [2.2, 1.9, 1]]",
              "--set", "world.trade_costs=[[1, 1.1, 1.9], [1.5, 1, 1.7], [1.8, 1.6, 1]]"], "selection into exporting"),
            // And far below: the export cutoff under the Pareto bound.
            (["--set", "firms.fixed_cost=[[1, 0.05, 2], [1.6, 1, 1.7], [2.2, 1.9, 1]]"], "firms.lower_bound"),
        ]
        for (extra, key) in cases {
            let out = base + "/bad"
            let r = try hat(["solve", config, "--out", out] + extra)
            XCTAssertEqual(r.status, 2, "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(key), "\(extra): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(extra)")
        }
        let solved = base + "/solved"
        XCTAssertEqual(try hat(["solve", config, "--out", solved]).status, 0)
        let counterfactuals: [([String], String)] = [
            (["--experiment", "unilateral", "--ev-method", "converged"], "--ev-method"),
            (["--experiment", "unilateral", "--decompose"], "--decompose"),
            (["--experiment", "unilateral", "--factor", "0.5"], "--factor"),
            (["--experiment", "tariff", "--tariff", "-0.1"], "--tariff"),
            (["--experiment", "unilateral", "--country", "MARS"], "--country"),
            (["--experiment", "bilateral:MARS"], "--experiment"),
            (["--experiment", "tariff", "--fixed-cost-factor", "0.5"], "--fixed-cost-factor"),
        ]
        for (extra, option) in counterfactuals {
            let out = base + "/bad-cf"
            let r = try hat(["counterfactual", config, "--baseline", solved, "--out", out] + extra)
            XCTAssertEqual(r.status, 2, "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(option), "\(extra): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(extra)")
        }
        // A baseline of another configuration, and --fixed-cost-factor on the household model.
        let other = try hat(["counterfactual", config, "--baseline", solved, "--out", base + "/other", "--experiment", "global",
                             "--set", "firms.sigma=4.5"])
        XCTAssertEqual(other.status, 2, other.stderr)
        XCTAssertTrue(other.stderr.contains("wages"), other.stderr)
        let household = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", solved, "--experiment", "unilateral",
                                 "--fixed-cost-factor", "0.5"])
        XCTAssertEqual(household.status, 2, household.stderr)
        XCTAssertTrue(household.stderr.contains("--fixed-cost-factor"), household.stderr)
        // A household-model command on a firm world names [firms].
        let planner = try hat(["planner", config, "--out", base + "/planner"])
        XCTAssertEqual(planner.status, 2, planner.stderr)
        XCTAssertTrue(planner.stderr.contains("[firms]"), planner.stderr)
    }
}

/// `hat firms simulate`: the same bytes on 1, 2 and 3 ranks (CSV, the HDF5 rows, the aggregates), the row
/// count of simulate.json in both files, and bad input.
final class FirmSimulateCommandTests: XCTestCase {
    let config = configPath("melitz-appendix.toml")

    func testSameRowsOnOneTwoAndThreeRanks() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        var csv: [Data] = [], rows: [String] = [], json: [String] = []
        for ranks in [1, 2, 3] {
            let out = base + "/r\(ranks)"
            // 40,000 draws: three chunks of entrants, so that the ranks share them unevenly.
            let arguments = ["firms", "simulate", config, "--firms", "40000", "--seed", "11", "--out", out]
            let r = ranks == 1 ? try hat(arguments) : try mpirun(ranks: ranks, arguments)
            XCTAssertEqual(r.status, 0, r.stderr)
            csv.append(try Data(contentsOf: URL(fileURLWithPath: out + "/firms.csv")))
            let dump = try runProcess("/usr/bin/h5dump", ["-d", "rows", out + "/firms.h5"])
            XCTAssertEqual(dump.status, 0, dump.stderr)
            rows.append(dump.stdout.replacingOccurrences(of: out, with: ""))
            json.append(try summaryTextWithoutRunFields(out + "/simulate.json").split(separator: "\n")
                .filter { !$0.contains("rows_per_second") && !$0.contains("simulate_wall_seconds") }.joined(separator: "\n"))
        }
        XCTAssertEqual(csv[1], csv[0]); XCTAssertEqual(csv[2], csv[0])
        XCTAssertEqual(rows[1], rows[0]); XCTAssertEqual(rows[2], rows[0])
        XCTAssertEqual(json[1], json[0]); XCTAssertEqual(json[2], json[0])
        let summary = try readJSON(base + "/r1/simulate.json")
        let count = try XCTUnwrap(summary["rows"] as? Int)
        let lines = String(decoding: csv[0], as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, count + 1, "header and one line per row")
        XCTAssertEqual(String(lines[0]), "firm_id,origin,destination,productivity,sales,signal_productivity,signal_fixed_cost,noise_1,noise_2")
        XCTAssertTrue(rows[0].contains("( \(count), 9 )"), "the HDF5 rows: \(count) x 9")
        // Another seed, other rows.
        let other = base + "/seed12"
        XCTAssertEqual(try hat(["firms", "simulate", config, "--firms", "40000", "--seed", "12", "--out", other]).status, 0)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: other + "/firms.csv")), csv[0])
    }

    /// SIGTERM between chunks: exit 75, one line, and nothing written (the folder it made is removed).
    func testStopBySignalWritesNothing() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let out = base + "/stopped"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: hatBinary)
        process.arguments = ["firms", "simulate", config, "--firms", "500000000", "--out", out]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait until it is writing (the folder exists), then stop it.
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: out) { usleep(50_000) }
        usleep(500_000)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 75, stderr)
        XCTAssertEqual(stderr.split(separator: "\n").count, 1, stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), (try? FileManager.default.contentsOfDirectory(atPath: out))?.description ?? "")
    }

    func testBadInput() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let cases: [([String], String)] = [
            (["firms", "simulate", config, "--firms", "0", "--out", base + "/a"], "--firms"),
            (["firms", "simulate", config, "--firms", "10", "--seed", "18446744073709551615", "--out", base + "/a"], "--seed"),
            (["firms", "simulate", configPath("two-country.toml"), "--firms", "10", "--out", base + "/a"], "firms"),
            (["firms", "simulate", config, "--firms", "10", "--set", "firms.sigma=0.5", "--out", base + "/a"], "firms.sigma"),
        ]
        for (arguments, expected) in cases {
            let r = try hat(arguments)
            XCTAssertEqual(r.status, 2, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/a"))
        }
    }
}
