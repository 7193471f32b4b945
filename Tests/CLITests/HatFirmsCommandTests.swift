import Foundation
import TestSupport
import XCTest

/// `[firms] households = "hat"`: HAT's households over national composites with Melitz firms inside. The
/// same bits on 1, 2 and 3 ranks (3 ranks split the two countries into grid blocks, so the composite fixed
/// point runs on a country's sub-communicator), the firm block of summary.json, counterfactuals against a
/// baseline, and bad input.
final class HatFirmsCommandTests: XCTestCase {
    let config = configPath("melitz-hat-two-country.toml")

    func testTwoCountryWorldOnOneTwoAndThreeRanks() throws {
        let runs = try summaries(config: config)
        XCTAssertEqual(runs[1].text, runs[0].text); XCTAssertEqual(runs[2].text, runs[0].text)
        let s = runs[0].summary
        XCTAssertEqual(s["status"] as? String, "converged")
        XCTAssertEqual(s["supply"] as? String, "melitz")
        let firms = try XCTUnwrap(s["firms"] as? [String: Any])
        XCTAssertEqual(firms["spending_elasticity"] as? Double ?? 0, 1.0 / 3 - 1.0 / 5, accuracy: 1e-15)
        let cutoffs = try XCTUnwrap(firms["cutoffs"] as? [[Double]]), bounds = try XCTUnwrap(firms["lower_bounds"] as? [Double])
        for n in 0..<2 { for i in 0..<2 { XCTAssertGreaterThan(cutoffs[n][i], bounds[i]) } }
        // Free entry under Pareto: entry, fixed costs and production use 1/(σκ), (κ−1)/(σκ), (σ−1)/σ of L.
        let labour = try XCTUnwrap(firms["labour"] as? [String: [Double]])
        for i in 0..<2 {
            XCTAssertEqual(labour["entry"]![i], 0.15, accuracy: 1e-13)
            XCTAssertEqual(labour["fixed_costs"]![i], 0.1, accuracy: 1e-7)
            XCTAssertEqual(labour["production"]![i], 0.75, accuracy: 1e-7)
        }
        // The household analysis measures elasticities with respect to the composite prices: HAT's −1/σε.
        let analysis = try XCTUnwrap(s["analysis"] as? [String: Any])
        XCTAssertEqual(analysis["aggregate_elasticity"] as? Double ?? 0, -4, accuracy: 1e-6)
        XCTAssertEqual((s["buyer_prices"] as? [[Double]])?.count, 2)
    }

    /// A counterfactual reuses a baseline only with the same firms; its EV is computed at the composite
    /// prices the baseline found.
    func testCounterfactualAgainstABaseline() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        XCTAssertEqual(try mpirun(ranks: 2, ["solve", config, "--out", base]).status, 0)
        let out = base + "/cf"
        let r = try mpirun(ranks: 2, ["counterfactual", config, "--baseline", base, "--experiment", "global", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let c = try readJSON(out + "/counterfactual.json")
        XCTAssertEqual(c["status"] as? String, "converged")
        let quintiles = try XCTUnwrap(c["ev_quintiles_percent"] as? [Double])
        XCTAssertEqual(quintiles.count, 5)
        // A symmetric global cut: home shares fall and every quintile gains.
        XCTAssertLessThan(c["home_share_after"] as? Double ?? 1, c["home_share_before"] as? Double ?? 0)
        for q in quintiles { XCTAssertGreaterThan(q, 0) }
        let other = try mpirun(ranks: 2, ["counterfactual", config, "--baseline", base, "--experiment", "global", "--out", base + "/other",
                                          "--set", "firms.shape=4.5"])
        XCTAssertEqual(other.status, 2, other.stderr)
        XCTAssertTrue(other.stderr.contains("supply_parameters"), other.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/other"))
    }

    /// Gravity as a guide with firms in the composites: `hat calibrate` on the reduced Eaton–Kortum grid, from
    /// the shifted start of ek19-calibrate-small.toml, re-fits the 46 parameters to the data's moments.
    func testCalibrationWithFirmsRecoversTheMoments() throws {
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let ones = "[" + Array(repeating: "1.0", count: 19).joined(separator: ", ") + "]"
        let domestic = "[" + Array(repeating: "0.3", count: 19).joined(separator: ", ") + "]"
        let r = try mpirun(ranks: 2, ["calibrate", configPath("ek19-calibrate-small.toml"), "--out", out,
                                      "--set", "world.data_dir=\"\(ekDirectory)\"", "--set", "firms.households=\"hat\"",
                                      "--set", "firms.sigma=5", "--set", "firms.shape=5", "--set", "firms.entry_cost=\(ones)",
                                      "--set", "firms.fixed_cost=0.6", "--set", "firms.domestic_fixed_cost=\(domestic)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let c = try readJSON(out + "/calibration.json")
        XCTAssertEqual(c["status"] as? String, "converged")
        XCTAssertLessThanOrEqual(c["max_abs_gap"] as? Double ?? 1, 1e-8)
        XCTAssertEqual((c["parameters"] as? [Double])?.count, 46)
    }

    /// Bad input: exit 2, one line naming the key, nothing written.
    func testBadInputNamesTheKey() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let cases: [([String], String)] = [
            (["--set", "firms.distribution=\"lognormal\""], "firms.distribution"),
            (["--set", "firms.lower_bound=[1, 1]"], "firms.lower_bound"),
            (["--set", "firms.differentiated_share=0.5"], "firms.differentiated_share"),
            (["--set", "firms.shape=3"], "firms.shape"),
            (["--set", "firms.sigma=0.5"], "firms.sigma"),
            (["--set", "firms.entry_cost=[1]"], "firms.entry_cost"),
            (["--set", "firms.entry=\"fixed\""], "firms.entry_mass"),
            (["--set", "firms.fixed_cost=-1"], "firms.fixed_cost"),
            (["--set", "firms.domestic_fixed_cost=[0, 0]"], "firms.domestic_fixed_cost"),
            (["--set", "firms.fixed_cost=[[1, 1], [1]]"], "firms.fixed_cost"),
            // The scale economy 1/(σ−1) − 1/k = 0.8 outruns σε = 0.25: the composite fixed point is unstable.
            (["--set", "firms.sigma=2"], "model.sigma_eps"),
        ]
        for (extra, key) in cases {
            let out = base + "/bad"
            let r = try hat(["solve", config, "--out", out] + extra)
            XCTAssertEqual(r.status, 2, "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(key), "\(extra): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(extra)")
        }
        // Domestic fixed costs so low that every firm would sell at home: the cutoff is not interior. Found at
        // the solution (after the solve's progress lines): exit 2, the last line names the key, nothing written.
        let corner = try hat(["solve", config, "--out", base + "/corner", "--set", "firms.domestic_fixed_cost=[0.05, 0.05]"])
        XCTAssertEqual(corner.status, 2, corner.stderr)
        XCTAssertTrue(corner.stderr.split(separator: "\n").last?.contains("[firms.fixed_cost] the cutoff of HOME → HOME") == true, corner.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/corner/summary.json"))
        let planner = try hat(["planner", config, "--out", base + "/planner"])
        XCTAssertEqual(planner.status, 2, planner.stderr)
        XCTAssertTrue(planner.stderr.contains("[firms]"), planner.stderr)
    }
}
