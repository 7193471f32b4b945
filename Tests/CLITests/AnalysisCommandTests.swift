import Foundation
import TestSupport
import XCTest

/// `[analysis]` in hat solve, `hat counterfactual`, `hat planner` and scripts/figures.py, end to end.
final class AnalysisCommandTests: XCTestCase {
    func dump(_ path: String, _ datasets: [String]) throws -> String {
        var arguments = ["-m", "%.17g"]
        for d in datasets { arguments += ["-d", d] }
        let r = try runProcess("/usr/bin/h5dump", arguments + [path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.replacingOccurrences(of: path, with: "FILE")
    }

    /// CONTRACT.md's `analysis` keys, with the two-country reference elasticity (HAT-SPEC §8.2).
    func testSolveWritesTheContractAnalysis() throws {
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try hat(["solve", configPath("two-country.toml"), "--out", out, "--set", "analysis.simulate=20000"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let analysis = try XCTUnwrap(try readJSON(out + "/summary.json")["analysis"] as? [String: Any])
        XCTAssertEqual(analysis["country"] as? String, "HOME")
        XCTAssertEqual(analysis["partners"] as? [String], ["FOREIGN"])
        let aggregate = try XCTUnwrap(analysis["aggregate_elasticity"] as? Double)
        XCTAssertEqual(aggregate, -4.122612728432357, accuracy: 1e-6)
        XCTAssertEqual((analysis["bilateral_elasticities"] as? [Double])?.count, 1)
        XCTAssertEqual((analysis["prices"] as? [Double])?.count, 1)
        XCTAssertEqual((analysis["import_shares"] as? [Double])?.first ?? 0, 0.0995163, accuracy: 1e-6)
        let quintiles = try XCTUnwrap(analysis["quintiles"] as? [String: Any])
        for key in ["import_share", "elasticity", "mpc", "assets"] {
            let v = try XCTUnwrap(quintiles[key] as? [Double], key)
            XCTAssertEqual(v.count, 5, key)
        }
        let elasticity = quintiles["elasticity"] as! [Double]
        XCTAssertTrue(elasticity.allSatisfy { $0 < 0 })
        XCTAssertLessThan(elasticity[0], elasticity[4], "poorer households are more price elastic (HAT)")
        let groups = try XCTUnwrap(analysis["income_groups"] as? [String: Any])
        for split in ["p20_p80", "p50_p50"] {
            let g = try XCTUnwrap(groups[split] as? [String: Any], split)
            for who in ["poor", "middle", "rich"] {
                let h = try XCTUnwrap(g[who] as? [String: Any], who)
                for key in ["import_share", "elasticity", "mpc"] { XCTAssertNotNil(h[key] as? Double, "\(split).\(who).\(key)") }
            }
        }
        XCTAssertEqual((analysis["simulated"] as? [String: Any])?["draws"] as? Int, 20000)
        // solution.h5's analysis group.
        let text = try dump(out + "/solution.h5", ["/analysis/theta_pi", "/analysis/mpc", "/analysis/expenditure", "/analysis/aggregate_elasticity"])
        XCTAssertTrue(text.contains("DATASPACE  SIMPLE { ( 2, 10, 100 ) / ( 2, 10, 100 ) }"), text.prefix(400).description)
        let inspect = try hat(["inspect", out + "/solution.h5"])
        XCTAssertTrue(inspect.stdout.contains("aggregate elasticity -4.12261"), inspect.stdout)
    }

    /// The analysis is the same, number for number, on 1, 2 and 3 ranks (sources spread over ranks).
    func testAnalysisIsRankInvariant() throws {
        let runs = try summaries(config: configPath("three-country.toml"),
                                 extraArguments: ["--set", "analysis.country=\"SOUTH\"", "--set", "grid.assets=40"])
        XCTAssertTrue(runs[0].text.contains("\"aggregate_elasticity\""))
        XCTAssertEqual(runs[0].text, runs[1].text)
        XCTAssertEqual(runs[0].text, runs[2].text)
    }

    static let small = ["--set", "grid.assets=30", "--set", "income.persistent_states=3"]

    func baseline(_ out: String) throws {
        let r = try hat(["solve", configPath("two-country.toml"), "--out", out] + Self.small)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// The equivalent variation reports its phases on the root rank (every line with HAT_PROGRESS_SECONDS=0:
    /// done/total, rate, time left), and the welfare it writes is the same bits as without them.
    func testEquivalentVariationReportsProgressWithoutChangingItsNumbers() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        let arguments = ["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "unilateral"] + Self.small
        let loud = try runProcess(hatBinary, arguments + ["--out", base + "/loud"], timeout: 600, environment: ["HAT_PROGRESS_SECONDS": "0"])
        XCTAssertEqual(loud.status, 0, loud.stderr)
        let lines = loud.stderr.split(separator: "\n").filter { $0.hasPrefix("hat: equivalent variation, ") }
        for phase in ["shared solves", "first solves", "polishing"] {
            XCTAssertTrue(lines.contains { $0.contains(phase + ": ") && $0.contains(" per second, about ") && $0.hasSuffix(" s left") }, "\(phase): \(loud.stderr)")
        }
        let quiet = try hat(arguments + ["--out", base + "/quiet"])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertFalse(quiet.stderr.contains("equivalent variation, "), "a short run prints no progress lines at the default interval")
        let a = try readJSON(base + "/loud/counterfactual.json"), b = try readJSON(base + "/quiet/counterfactual.json")
        for key in ["ev_mean_percent", "ev_min", "ev_max", "ev_quintiles_percent", "R_after"] {
            XCTAssertEqual("\(a[key] ?? "none")", "\(b[key] ?? "none")", key)
        }
    }

    /// counterfactual.json has CONTRACT.md's keys; every state has a converged EV; for both EV methods, 1, 2
    /// and 3 ranks give the same welfare/ev bits and the same JSON numbers.
    func testCounterfactualIsCompleteAndRankInvariant() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        for method in ["author", "converged"] {
        var dumps: [String] = [], texts: [String] = []
        for ranks in [1, 2, 3] {
            let out = base + (method == "author" ? "/cf-\(ranks)" : "/cf-\(method)-\(ranks)")
            let r = try mpirun(ranks: ranks, ["counterfactual", configPath("two-country.toml"), "--baseline", base,
                                              "--experiment", "unilateral", "--ev-method", method, "--out", out] + Self.small)
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try readJSON(out + "/counterfactual.json")
            for key in ["status", "experiment", "factor", "country", "R_before", "R_after", "wages_before", "wages_after",
                        "home_share_before", "home_share_after", "acr_percent", "rate_wage_ratio", "ev_mean_percent",
                        "ev_quintiles_percent", "ev_min", "ev_max", "ev_states", "ev_unconverged", "wall_seconds"] {
                XCTAssertNotNil(json[key], key)
            }
            XCTAssertEqual(json["status"] as? String, "converged")
            XCTAssertEqual(json["ev_method"] as? String, method)
            XCTAssertEqual(json["ev_states"] as? Int, 30 * 6)
            XCTAssertEqual(json["ev_unconverged"] as? Int, 0)
            XCTAssertEqual((json["ev_quintiles_percent"] as? [Double])?.count, 5)
            XCTAssertLessThan(json["home_share_after"] as! Double, json["home_share_before"] as! Double)
            XCTAssertGreaterThan(json["acr_percent"] as! Double, 0)
            dumps.append(try dump(out + "/counterfactual.h5", ["/welfare/ev", "/welfare/converged", "/prices/R", "/prices/wages"]))
            texts.append(try summaryTextWithoutRunFields(out + "/counterfactual.json"))
        }
        XCTAssertEqual(dumps[0], dumps[1]); XCTAssertEqual(dumps[0], dumps[2])
        XCTAssertEqual(texts[0], texts[1]); XCTAssertEqual(texts[0], texts[2])
        XCTAssertTrue(dumps[0].contains("DATASPACE  SIMPLE { ( 6, 30 ) / ( 6, 30 ) }"))
        }
        let inspect = try hat(["inspect", base + "/cf-1/counterfactual.h5"])
        XCTAssertTrue(inspect.stdout.contains("0 not converged"), inspect.stdout)
    }

    /// --decompose: the five terms of every state in counterfactual.h5, their quintile and income-group
    /// means in counterfactual.json, A + B + C equal to the differenced values, the same bits on 1 and 2
    /// ranks, and the welfare numbers unchanged by asking for it.
    func testDecomposeWritesEveryStatesSplitAndItsMeans() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        var dumps: [String] = []
        let names = ["substitution", "factor_prices", "asset_holdings", "distribution", "total"]
        for ranks in [1, 2] {
            let out = base + "/split-\(ranks)"
            let r = try mpirun(ranks: ranks, ["counterfactual", configPath("two-country.toml"), "--baseline", base,
                                              "--experiment", "unilateral", "--decompose", "--out", out] + Self.small)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("decomposition: A + B + C matches"), r.stderr)
            let json = try readJSON(out + "/counterfactual.json")
            let d = try XCTUnwrap(json["decomposition"] as? [String: Any])
            XCTAssertEqual(d["step"] as? Double, 1e-3)
            XCTAssertLessThan(d["identity_gap"] as? Double ?? 1, 1e-6)
            let quintiles = try XCTUnwrap(d["quintiles_percent"] as? [String: [Double]])
            XCTAssertTrue(quintiles["total"]!.allSatisfy { $0 > 0 }, "every quintile gains from cheaper imports")
            for name in ["substitution", "factor_prices", "asset_holdings", "total"] {
                XCTAssertEqual(quintiles[name]?.count, 5, name)
                XCTAssertNotNil((d["income_groups_percent"] as? [String: Any])?[name], name)
            }
            for q in 0..<5 {
                let sum = quintiles["substitution"]![q] + quintiles["factor_prices"]![q] + quintiles["asset_holdings"]![q]
                XCTAssertEqual(sum, quintiles["total"]![q], accuracy: 1e-6 * abs(quintiles["total"]![q]))
            }
            dumps.append(try dump(out + "/counterfactual.h5", names.map { "/decomposition/\($0)" }))
        }
        XCTAssertEqual(dumps[0], dumps[1])
        XCTAssertTrue(dumps[0].contains("DATASPACE  SIMPLE { ( 6, 30 ) / ( 6, 30 ) }"))
        // The figure: stacked bars by quintile, drawn only for a decomposed counterfactual.
        let f = try runProcess("/usr/bin/python3", [packageRoot.appendingPathComponent("scripts/figures.py").path, base,
                                                    "--counterfactual", base + "/split-1", "--out", base + "/figures"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(f.stdout.contains(base + "/figures/decomposition.png"), f.stdout)
        let plain = base + "/plain"
        XCTAssertEqual(try hat(["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "unilateral",
                                "--out", plain] + Self.small).status, 0)
        let a = try readJSON(plain + "/counterfactual.json"), b = try readJSON(base + "/split-1/counterfactual.json")
        XCTAssertNil(a["decomposition"])
        for key in ["ev_mean_percent", "ev_min", "ev_max", "ev_quintiles_percent", "R_after"] {
            XCTAssertEqual("\(a[key] ?? "none")", "\(b[key] ?? "none")", key)
        }
    }

    /// The ACR elasticity is the baseline analysis's aggregate elasticity when the baseline analysed the
    /// country, and the same number computed afresh when it did not.
    func testAcrElasticityReusedOrRecomputedAlike() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        let plain = base + "/plain"
        XCTAssertEqual(try hat(["solve", configPath("two-country.toml"), "--out", plain, "--set", "analysis.elasticities=false"] + Self.small).status, 0)
        let reused = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "unilateral",
                              "--out", base + "/a"] + Self.small)
        let computed = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", plain, "--experiment", "unilateral",
                                "--out", base + "/b", "--set", "analysis.elasticities=false"] + Self.small)
        XCTAssertEqual(reused.status, 0, reused.stderr); XCTAssertEqual(computed.status, 0, computed.stderr)
        let a = try readJSON(base + "/a/counterfactual.json"), b = try readJSON(base + "/b/counterfactual.json")
        let analysis = try XCTUnwrap(try readJSON(base + "/summary.json")["analysis"] as? [String: Any])
        XCTAssertEqual(a["acr_elasticity"] as? Double, analysis["aggregate_elasticity"] as? Double)
        XCTAssertEqual(b["acr_elasticity"] as? Double, a["acr_elasticity"] as? Double)
        XCTAssertNil(a["baseline_elasticities_wall_seconds"]); XCTAssertNotNil(b["baseline_elasticities_wall_seconds"])
    }

    /// A tariff on the analysed country's imports, rebated per capita: the new equilibrium balances the
    /// government budget with a positive transfer, and the home share rises.
    func testTariffExperimentRebatesRevenue() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        let r = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "tariff:FOREIGN",
                         "--tariff", "0.2", "--out", base + "/tariff"] + Self.small)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try readJSON(base + "/tariff/counterfactual.json")
        XCTAssertEqual(json["experiment"] as? String, "tariff:FOREIGN")
        let transfers = try XCTUnwrap(json["transfers_after"] as? [Double])
        XCTAssertGreaterThan(transfers[0], 0)
        XCTAssertEqual(transfers[1], 0, accuracy: 1e-10)
        XCTAssertGreaterThan(json["home_share_after"] as! Double, json["home_share_before"] as! Double)
        XCTAssertEqual(json["ev_unconverged"] as? Int, 0)
    }

    /// The rebate closure in a plain `hat solve`: the tariff-levying country gets a transfer unknown whose
    /// budget residual is cleared; the other country has none.
    func testSolveWithTheRebateClosure() throws {
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try hat(["solve", configPath("two-country.toml"), "--out", out, "--set", "equilibrium.closure=\"world-rate-rebate\"",
                         "--set", "world.tariffs=[[0.0, 0.15], [0.0, 0.0]]"] + Self.small)
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try readJSON(out + "/summary.json")
        let transfers = try XCTUnwrap(summary["transfers"] as? [Double])
        XCTAssertGreaterThan(transfers[0], 0)
        XCTAssertEqual(transfers[1], 0)
        let unknowns = try XCTUnwrap(summary["unknowns"] as? [String: Any])
        XCTAssertNotNil(unknowns["transfer_HOME"])
        XCTAssertNil(unknowns["transfer_FOREIGN"])
        let residuals = try XCTUnwrap(summary["residuals"] as? [String: Double])
        XCTAssertLessThanOrEqual(abs(residuals["budget_HOME"] ?? 1), 1e-10)
    }

    /// Bad counterfactual input: exit 2, one line naming the problem, nothing written.
    func testCounterfactualBadInput() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        let config = configPath("two-country.toml")
        let cases: [([String], String)] = [
            (["--baseline", base + "/missing", "--experiment", "unilateral"], "summary.json"),
            (["--baseline", base, "--experiment", "sideways"], "--experiment"),
            (["--baseline", base, "--experiment", "bilateral:MARS"], "MARS"),
            (["--baseline", base, "--experiment", "bilateral:HOME"], "analysed country itself"),
            (["--baseline", base, "--experiment", "unilateral", "--factor", "0"], "--factor"),
            (["--baseline", base, "--experiment", "unilateral", "--country", "ATLANTIS"], "--country"),
            (["--baseline", base, "--experiment", "unilateral", "--set", "model.gamma=1.4"], "[model.gamma]"),
            (["--baseline", base, "--experiment", "unilateral", "--set", "grid.assets=31"], "[grid.assets]"),
            (["--baseline", base, "--experiment", "unilateral", "--set", "model.beta=0.95"], "[beta]"),
            (["--baseline", base, "--experiment", "unilateral", "--set", "equilibrium.closure=\"fixed-rate\""], "[closure]"),
            (["--baseline", base, "--experiment", "unilateral", "--factor", "-0.9"], "--factor"),
            (["--baseline", base, "--experiment", "tariff", "--factor", "0.9"], "--factor"),
            (["--baseline", base, "--experiment", "global", "--tariff", "0.1"], "--tariff"),
            (["--baseline", base, "--experiment", "unilateral", "--ev-method", "exact"], "--ev-method"),
            (["--baseline", base, "--experiment", "unilateral", "--decompose-step", "0.001"], "--decompose-step"),
            (["--baseline", base, "--experiment", "unilateral", "--decompose", "--decompose-step", "0"], "--decompose-step"),
            (["--baseline", base, "--experiment", "unilateral", "--decompose", "--decompose-step", "0.5"], "--decompose-step"),
            (["--baseline", base, "--experiment", "unilateral", "--decompose", "--decompose-step", "nan"], "--decompose-step"),
            (["--baseline", base, "--experiment", "unilateral", "--decompose", "--decompose-step", "x"], "--decompose-step"),
            (["--baseline", base, "--experiment", "unilateral", "--ev-values", "author"], "--ev-values"),
        ]
        for (arguments, expected) in cases {
            let out = base + "/bad"
            let small = arguments.contains("grid.assets=31") ? ["--set", "income.persistent_states=3"] : Self.small
            let r = try hat(["counterfactual", config, "--out", out] + arguments + small)
            XCTAssertEqual(r.status, 2, "\(arguments): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/counterfactual.json"))
        }
    }

    /// No change at all (--factor 1): with both sides' values converged (`--ev-method converged`)
    /// and the branch through no change (`--ev-start 1`), every state's EV is exactly zero; the author's
    /// procedure leaves the documented small bias. A baseline with unrebated tariffs refuses a tariff
    /// experiment (exit 2).
    func testNoChangeHasNoWelfareEffect() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        let out = base + "/none"
        let r = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "unilateral",
                         "--factor", "1", "--ev-method", "converged", "--ev-start", "1", "--out", out] + Self.small)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try readJSON(out + "/counterfactual.json")
        XCTAssertEqual(json["ev_min"] as? Double ?? 0, 1, accuracy: 1e-12)
        XCTAssertEqual(json["ev_max"] as? Double ?? 0, 1, accuracy: 1e-12)
        XCTAssertEqual(json["ev_method"] as? String, "converged")
        XCTAssertEqual(json["ev_unconverged"] as? Int, 0)
        XCTAssertEqual(json["R_after"] as? Double ?? 0, json["R_before"] as? Double ?? 1, accuracy: 1e-10)
        // The author's values: a small positive bias outside the non-monotone states.
        let author = base + "/author"
        let a = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "unilateral",
                         "--factor", "1", "--ev-start", "1", "--out", author] + Self.small)
        XCTAssertEqual(a.status, 0, a.stderr)
        let mean = try XCTUnwrap(try readJSON(author + "/counterfactual.json")["ev_mean_percent"] as? Double)
        XCTAssertLessThan(abs(mean), 0.1)
        // Tariffs in the baseline whose revenue was not rebated: a tariff experiment is refused.
        let tariffs = ["--set", "world.tariffs=[[0.0, 0.2], [0.0, 0.0]]"]
        let tb = base + "/tariff-base"
        XCTAssertEqual(try hat(["solve", configPath("two-country.toml"), "--out", tb] + Self.small + tariffs).status, 0)
        let refused = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", tb, "--experiment", "tariff",
                               "--tariff", "0", "--out", tb + "/cf"] + Self.small + tariffs)
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("world-rate-rebate"), refused.stderr)
    }

    /// hat planner: the log world's efficient shares are exact gravity, and planner.json says so.
    func testPlannerCommand() throws {
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try hat(["planner", configPath("two-country-log.toml"), "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try readJSON(out + "/planner.json")
        XCTAssertEqual(json["status"] as? String, "converged")
        let shares = try XCTUnwrap(json["trade_shares"] as? [[Double]])
        XCTAssertEqual(shares[0][1], pow(2.05, -4) / (1 + pow(2.05, -4)), accuracy: 1e-12)
        let elasticities = try XCTUnwrap(json["elasticities"] as? [[Double]])
        XCTAssertEqual(elasticities[0][1], -4, accuracy: 1e-12)
    }

    /// The 19-country baseline with [analysis] country = "USA", the unilateral 10 % cut with an EV for all
    /// 1000 states, every flag true (2 ranks), and the figures made from both.
    func testNineteenCountryBaselineCounterfactualAndFigures() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let solve = try mpirun(ranks: 2, ["solve", configPath("ek19-baseline.toml"), "--out", base])
        XCTAssertEqual(solve.status, 0, solve.stderr)
        let analysis = try XCTUnwrap(try readJSON(base + "/summary.json")["analysis"] as? [String: Any])
        XCTAssertEqual(analysis["country"] as? String, "USA")
        XCTAssertEqual((analysis["bilateral_elasticities"] as? [Double])?.count, 18)
        XCTAssertEqual(analysis["aggregate_elasticity"] as? Double ?? 0, -4.2, accuracy: 0.1, "the paper's about -4.2")
        XCTAssertEqual(analysis["home_share"] as? Double ?? 0, 1 - 0.075, accuracy: 0.01, "the paper's import share about 0.075")
        XCTAssertNotNil(analysis["mpc_mean"] as? Double)
        let cf = base + "/unilateral"
        let r = try mpirun(ranks: 2, ["counterfactual", configPath("ek19-baseline.toml"), "--baseline", base,
                                      "--experiment", "unilateral", "--out", cf])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try readJSON(cf + "/counterfactual.json")
        XCTAssertEqual(json["ev_states"] as? Int, 1000)
        XCTAssertEqual(json["ev_unconverged"] as? Int, 0)
        XCTAssertEqual(json["ev_method"] as? String, "author")
        XCTAssertLessThanOrEqual(json["ev_max_bracket_width"] as? Double ?? 1, 1e-10)
        XCTAssertLessThanOrEqual(json["ev_max_abs_residual_without_jumps"] as? Double ?? 1, 1e-8)
        XCTAssertLessThan(json["ev_jump_states"] as? Int ?? 1000, 50, "jumps are where the step count changes, a few states")
        XCTAssertEqual(json["rate_wage_ratio"] as? Double ?? 0, 1.046, accuracy: 0.005, "the paper's +4.6 %")
        let q = try XCTUnwrap(json["ev_quintiles_percent"] as? [Double])
        XCTAssertGreaterThan(q[0] / q[4], 3, "the poorest quintile gains several times the richest's (paper: 4-5x)")
        // Figures: every PNG exists and is not blank.
        let figures = base + "/figures"
        let f = try runProcess("/usr/bin/python3", [packageRoot.appendingPathComponent("scripts/figures.py").path, base,
                                                    "--counterfactual", cf, "--out", figures])
        XCTAssertEqual(f.status, 0, f.stderr)
        let expected = ["trade_flows", "bilateral_elasticities", "quintiles", "ev_quintiles", "ev_assets"].map { figures + "/\($0).png" }
        XCTAssertEqual(f.stdout.split(separator: "\n").map(String.init), expected)
        let check = try runProcess("/usr/bin/python3", ["-c", """
            import sys, matplotlib.image as m
            for p in sys.argv[1:]:
                a = m.imread(p)
                assert a.shape[0] > 100 and a.shape[1] > 100, p
                assert a[..., :3].std() > 0.02, p + ' is blank'
            print('ok')
            """] + expected)
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertEqual(check.stdout, "ok\n")
    }
}
