import Foundation
import TestSupport
import XCTest

/// `hat policy` on the two-country world (small grid): the optimum against a brute-force grid of
/// independent counterfactuals, no change at t = 0, a scheme that throws the revenue away, rank groups,
/// resume, and bad input.
final class PolicyCommandTests: XCTestCase {
    static let small = ["--set", "grid.assets=30", "--set", "income.persistent_states=3"]

    func baseline(_ out: String) throws {
        let r = try hat(["solve", configPath("two-country.toml"), "--out", out] + Self.small)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func policy(_ base: String, _ out: String, ranks: Int = 1, _ extra: [String]) throws -> (RunResult, [String: Any]) {
        let arguments = ["policy", configPath("two-country.toml"), "--baseline", base, "--country", "HOME", "--out", out] + extra + Self.small
        let r = ranks == 1 ? try hat(arguments) : try mpirun(ranks: ranks, arguments)
        let json = FileManager.default.fileExists(atPath: out + "/policy.json") ? try readJSON(out + "/policy.json") : [:]
        return (r, json)
    }

    /// JSON text with sorted keys (a dictionary's description has no fixed order).
    func canonical(_ value: Any?) throws -> String {
        guard let value else { return "none" }
        return String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    func optimum(_ json: [String: Any], _ objective: String) throws -> [String: Any] {
        try XCTUnwrap((json["optimum"] as? [String: Any])?[objective] as? [String: Any])
    }

    /// The utilitarian optimum agrees to 1e-3 in t with the best of a brute-force grid of `hat counterfactual
    /// --experiment tariff` runs (spacing 1e-3, an independent path to the same W); t = 0 gives λ = 1 in every
    /// state; 1 and 2 rank groups give the same numbers.
    func testOptimumAgreesWithABruteForceGridAndNoTariffChangesNothing() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        let (r, json) = try policy(base, base + "/one", ranks: 2, ["--objective", "utilitarian,bottom-quintile"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(json["status"] as? String, "converged")
        let best = try optimum(json, "utilitarian")
        let t = try XCTUnwrap(best["tariff"] as? Double)
        XCTAssertGreaterThan(t, 0.05)
        XCTAssertLessThan(t, 0.55)
        let bracket = try XCTUnwrap(best["bracket"] as? [Double])
        XCTAssertLessThan(bracket[1] - bracket[0], 1e-3)
        // Brute force: 11 counterfactuals around the optimum, each W = 1 + mean EV/100.
        var grid: [(Double, Double)] = []
        for i in -5...5 {
            let u = (t * 1000).rounded() / 1000 + Double(i) * 1e-3
            let out = base + "/cf-\(i)"
            let c = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "tariff",
                             "--tariff", "\(u)", "--ev-method", "converged", "--out", out] + Self.small)
            XCTAssertEqual(c.status, 0, c.stderr)
            let mean = try XCTUnwrap(try readJSON(out + "/counterfactual.json")["ev_mean_percent"] as? Double)
            grid.append((u, 1 + mean / 100))
        }
        let brute = grid.max { $0.1 < $1.1 }!
        XCTAssertEqual(brute.0, t, accuracy: 1e-3, "\(grid)")
        XCTAssertEqual(best["welfare"] as? Double ?? 0, brute.1, accuracy: 1e-6)
        XCTAssertGreaterThanOrEqual(best["welfare"] as? Double ?? 0, brute.1 - 1e-9, "the optimum is at least the grid's best")
        // No tariff: λ = 1 in every state (converged EV).
        let candidates = try XCTUnwrap(try readJSON(base + "/one/policy-candidates.json")["candidates"] as? [[String: Any]])
        let zero = try XCTUnwrap(candidates.first { ($0["tariff"] as? Double) == 0 })
        let lambda = try XCTUnwrap(zero["multipliers"] as? [Double])
        XCTAssertEqual(lambda.count, 180)
        for x in lambda { XCTAssertEqual(x, 1, accuracy: 1e-12) }
        // The bottom quintile's optimum: its own W is at least the utilitarian optimum's there.
        let bottom = try optimum(json, "bottom-quintile")
        let atUtilitarian = try XCTUnwrap((best["ev_quintiles_percent"] as? [Double])?.first)
        XCTAssertGreaterThanOrEqual(bottom["welfare"] as? Double ?? 0, 1 + atUtilitarian / 100 - 1e-9)
        // One group of 2 ranks against 2 groups of 1: the same candidates, to the bit.
        let (g, grouped) = try policy(base, base + "/two", ranks: 2, ["--objective", "utilitarian,bottom-quintile", "--groups", "2"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(try canonical(grouped["optimum"]), try canonical(json["optimum"]))
        XCTAssertEqual(try canonical(grouped["welfare_curve"]), try canonical(json["welfare_curve"]))
    }

    /// Throwing the revenue away gives a lower welfare curve than rebating it per capita at every t > 0,
    /// and the same at t = 0, and `hat counterfactual --rebate discard` reproduces a point of it; a finished run resumed from its candidates gives the same numbers without
    /// solving again; a second run into the folder without --resume is refused.
    func testDiscardedRevenueIsWorseAndResumeReusesTheCandidates() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        let (a, perCapita) = try policy(base, base + "/per-capita", ["--rebate", "per-capita", "--grid", "5"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let (b, discard) = try policy(base, base + "/discard", ["--rebate", "discard", "--grid", "5"])
        XCTAssertEqual(b.status, 0, b.stderr)
        let curve = { (json: [String: Any]) -> [[Double]] in ((json["welfare_curve"] as? [String: Any])?["utilitarian"] as? [[Double]]) ?? [] }
        let rebated = Dictionary(uniqueKeysWithValues: curve(perCapita).map { ($0[0], $0[1]) })
        var compared = 0
        for point in curve(discard) {
            guard let other = rebated[point[0]] else { continue }
            compared += 1
            if point[0] == 0 { XCTAssertEqual(point[1], other, accuracy: 1e-12) } else { XCTAssertLessThan(point[1], other, "t = \(point[0])") }
        }
        XCTAssertGreaterThanOrEqual(compared, 5)
        // The figure of both curves; a --policy folder without policy.h5 is one line naming it, exit 2.
        let script = packageRoot.appendingPathComponent("scripts/figures.py").path
        let f = try runProcess("/usr/bin/python3", [script, base, "--policy", base + "/per-capita", "--policy", base + "/discard",
                                                    "--out", base + "/figures"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(f.stdout.contains(base + "/figures/policy_curves.png"), f.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/figures/policy_curves.png"))
        let missing = try runProcess("/usr/bin/python3", [script, base, "--policy", base, "--out", base + "/no-figures"])
        XCTAssertEqual(missing.status, 2, missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("--policy") && missing.stderr.contains("policy.h5"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/no-figures"))
        // `hat counterfactual --rebate` at one of the discard curve's tariffs: the same W by its own path.
        let point = try XCTUnwrap(curve(discard).first { $0[0] > 0.1 })
        let single = base + "/cf-discard"
        let c = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "tariff",
                         "--tariff", "\(point[0])", "--rebate", "discard", "--ev-method", "converged", "--out", single] + Self.small)
        XCTAssertEqual(c.status, 0, c.stderr)
        let cf = try readJSON(single + "/counterfactual.json")
        XCTAssertEqual(cf["rebate_scheme"] as? String, "discard")
        XCTAssertEqual(1 + (cf["ev_mean_percent"] as? Double ?? 0) / 100, point[1], accuracy: 1e-8)
        // Nothing to pay back: a trade-cost cut on a baseline without tariffs refuses --rebate.
        let none = try hat(["counterfactual", configPath("two-country.toml"), "--baseline", base, "--experiment", "unilateral",
                            "--rebate", "labour-income", "--out", base + "/cf-none"] + Self.small)
        XCTAssertEqual(none.status, 2, none.stderr)
        XCTAssertEqual(none.stderr.split(separator: "\n").count, 1, none.stderr)
        XCTAssertTrue(none.stderr.contains("--rebate"), none.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/cf-none"))
        // Resume: remove the outputs, keep the candidates.
        let folder = base + "/per-capita"
        for name in ["policy.json", "policy.h5"] { try FileManager.default.removeItem(atPath: folder + "/" + name) }
        let (again, resumed) = try policy(base, folder, ["--rebate", "per-capita", "--grid", "5", "--resume"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("candidates from policy-candidates.json"), again.stderr)
        XCTAssertFalse(again.stderr.contains(": W = ") || again.stderr.contains("grid candidates in"), "nothing solved again: \(again.stderr)")
        XCTAssertEqual(try canonical(resumed["optimum"]), try canonical(perCapita["optimum"]))
        let (refused, _) = try policy(base, folder, ["--rebate", "per-capita", "--grid", "5"])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--resume"), refused.stderr)
    }

    /// Where W is not defined (some state's EV has no root: with a deep borrowing limit, R a + w z < 0, V^x
    /// has a minimum in x, and a household that loses more than it has no multiplier), the search does not
    /// pass off the edge of that region as an optimum: the candidate records how many states, the optimum
    /// names the undefined end of its bracket, and the run ends not converged (exit 3, outputs written).
    func testAnOptimumAgainstTheRegionWhereWIsUndefinedIsNotConverged() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let deep = ["--set", "model.phi=1.5"]
        let r0 = try hat(["solve", configPath("two-country.toml"), "--out", base] + Self.small + deep)
        XCTAssertEqual(r0.status, 0, r0.stderr)
        let (r, json) = try policy(base, base + "/p", ["--rebate", "labour-income"] + deep)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(json["status"] as? String, "not-converged")
        XCTAssertTrue(r.stderr.contains("has no bracketed root"), r.stderr)
        let best = try optimum(json, "utilitarian")
        let edge = try XCTUnwrap(best["undefined_at_bracket_end"] as? Double, "\(best)")
        let unconverged = try XCTUnwrap(json["unconverged_candidates"] as? [Double])
        XCTAssertTrue(unconverged.contains(edge), "\(edge) in \(unconverged)")
        let t = try XCTUnwrap(best["tariff"] as? Double)
        XCTAssertLessThan(abs(edge - t), 1e-3, "the best defined point is next to the edge")
        let candidates = try XCTUnwrap(try readJSON(base + "/p/policy-candidates.json")["candidates"] as? [[String: Any]])
        let atEdge = try XCTUnwrap(candidates.first { ($0["tariff"] as? Double) == edge })
        XCTAssertGreaterThan(atEdge["ev_unconverged"] as? Int ?? 0, 0)
        XCTAssertEqual(atEdge["converged"] as? Bool, false)
        // The curve lists only candidates where W is defined.
        let curve = try XCTUnwrap((json["welfare_curve"] as? [String: Any])?["utilitarian"] as? [[Double]])
        XCTAssertFalse(curve.contains { unconverged.contains($0[0]) })
    }

    /// Bad input: exit 2, one line naming the option or key, nothing written.
    func testBadInputExitsTwoNamingTheOption() throws {
        let base = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try baseline(base)
        let cases: [([String], String)] = [
            (["--range", "0:10"], "--range"), (["--range", "-0.1:0.5"], "--range"), (["--range", "0.5:0.2"], "--range"),
            (["--range", "0.1"], "--range"), (["--range", "a:b"], "--range"),
            (["--objective", "quintile:6"], "--objective"), (["--objective", "utilitarian,"], "--objective"),
            (["--rebate", "nobody"], "--rebate"), (["--instrument", "quota"], "--instrument"),
            (["--grid", "2"], "--grid"), (["--groups", "0"], "--groups"), (["--groups", "3"], "--groups"),
            (["--tolerance", "0"], "--tolerance"), (["--tolerance", "0.5"], "--tolerance"),
            (["--ev-method", "fast"], "--ev-method"), (["--country", "MARS"], "--country"),
        ]
        for (extra, expected) in cases {
            let out = base + "/bad"
            let (r, _) = try policy(base, out, extra)
            XCTAssertEqual(r.status, 2, "\(extra): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(extra): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(extra): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/policy.json"), "\(extra)")
        }
        // A baseline whose tariff revenue was not rebated.
        let tariffs = ["--set", "world.tariffs=[[0.0, 0.2], [0.0, 0.0]]"]
        let tb = base + "/tariff-base"
        XCTAssertEqual(try hat(["solve", configPath("two-country.toml"), "--out", tb] + Self.small + tariffs).status, 0)
        let r = try hat(["policy", configPath("two-country.toml"), "--baseline", tb, "--out", tb + "/p"] + Self.small + tariffs)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("world-rate-rebate"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: tb + "/p/policy.json"))
        // A baseline with rebated tariffs: its revenue is paid back per capita, so another scheme is refused
        // by the policy and by a tariff counterfactual (it would change the baseline's own rebate too).
        let rebated = tariffs + ["--set", "equilibrium.closure=\"world-rate-rebate\""]
        let rb = base + "/rebated-base"
        let solved = try hat(["solve", configPath("two-country.toml"), "--out", rb] + Self.small + rebated)
        XCTAssertEqual(solved.status, 0, solved.stderr)
        let runs = [["policy", configPath("two-country.toml"), "--baseline", rb, "--country", "HOME", "--rebate", "labour-income", "--out", rb + "/p"],
                    ["counterfactual", configPath("two-country.toml"), "--baseline", rb, "--experiment", "tariff", "--tariff", "0.3",
                     "--rebate", "bottom-quintile", "--out", rb + "/p"]]
        for arguments in runs {
            let refused = try hat(arguments + Self.small + rebated)
            XCTAssertEqual(refused.status, 2, "\(arguments[0]): \(refused.stderr)")
            XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
            XCTAssertTrue(refused.stderr.contains("--rebate") && refused.stderr.contains("already has tariffs"), refused.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: rb + "/p"), "\(arguments[0])")
        }
    }
}
