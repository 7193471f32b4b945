import Foundation
import TestSupport
import XCTest

/// Grid blocks end to end: countries split into blocks of income states over groups of ranks give the
/// 1-rank numbers bit for bit, in summary.json and in every dataset of solution.h5
/// (docs/PERFORMANCE.md, "Spreading the work").
final class GridBlockTests: XCTestCase {
    /// Every household dataset and the distribution, printed with every digit.
    func dump(_ path: String) throws -> String {
        var arguments = ["-m", "%.17g"]
        for d in ["/household/c", "/household/a_next", "/household/pi", "/household/v", "/distribution",
                  "/aggregates/trade_flows", "/aggregates/bond_demand", "/prices/wages", "/prices/R"] { arguments += ["-d", d] }
        let r = try runProcess("/usr/bin/h5dump", arguments + [path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.replacingOccurrences(of: path, with: "FILE")
    }

    func solve(_ config: String, ranks: Int, _ extra: [String] = []) throws -> (summary: String, h5: String, json: [String: Any], log: String) {
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try mpirun(ranks: ranks, ["solve", config, "--out", out] + extra)
        XCTAssertEqual(r.status, 0, "\(ranks) ranks: \(r.stderr)")
        return (try summaryTextWithoutRunFields(out + "/summary.json"), try dump(out + "/solution.h5"),
                try readJSON(out + "/summary.json"), r.stderr + r.stdout)
    }

    /// The two-country large grid (N_a 1000, S 50) on 4 and 6 ranks (2 and 3 ranks per country, the
    /// machine oversubscribed) equals 1 rank bit for bit; the layouts really split the countries.
    func testTwoCountryLargeGridOnFourAndSixRanksEqualsOneRank() throws {
        let config = configPath("two-country-large.toml")
        let one = try solve(config, ranks: 1)
        XCTAssertEqual(one.json["status"] as? String, "converged")
        for ranks in [4, 6] {
            let run = try solve(config, ranks: ranks)
            let layout = run.json["layout"] as? String ?? ""
            XCTAssertTrue(layout.contains("HOME[s1–"), "\(ranks) ranks: \(layout)")
            XCTAssertFalse(layout.contains("idle"), layout)
            XCTAssertEqual(run.summary, one.summary, "summary.json, 1 vs \(ranks) ranks")
            XCTAssertEqual(run.h5, one.h5, "solution.h5, 1 vs \(ranks) ranks")
            XCTAssertEqual(run.json["grid_blocks"] as? String, "auto")
            XCTAssertEqual((run.json["rank_loads"] as? [Double])?.count, ranks)
            XCTAssertLessThan(run.json["load_imbalance"] as? Double ?? 1, 0.2)
        }
    }

    /// The 19-country baseline on 3 ranks with grid blocks forced on (one or two countries split between
    /// neighbouring ranks, the layout rebuilt from measured costs and the workspaces moved) equals 1 rank
    /// bit for bit; so does switching the load balancing off.
    func testEK19ThreeRanksWithGridBlocksEqualsOneRank() throws {
        let config = configPath("ek19-baseline.toml")
        for extra in [["--set", "parallel.grid_blocks=\"on\""],
                      ["--set", "parallel.grid_blocks=\"on\"", "--set", "parallel.load_balance=false"]] {
            // The same arguments on 1 rank (summary.json records the --set arguments and the mode).
            let one = try solve(config, ranks: 1, extra)
            let three = try solve(config, ranks: 3, extra)
            let layout = three.json["layout"] as? String ?? ""
            XCTAssertTrue(layout.contains("[s"), "a country is split: \(layout)")
            XCTAssertEqual(three.summary, one.summary, "summary.json \(extra)")
            XCTAssertEqual(three.h5, one.h5, "solution.h5 \(extra)")
            XCTAssertTrue(three.log.contains("load imbalance"), three.log)
        }
        // A bad mode is a configuration error naming the key.
        let out = temporaryDirectory()
        let bad = try hat(["solve", config, "--out", out, "--set", "parallel.grid_blocks=\"sometimes\""])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("parallel.grid_blocks"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/summary.json"))
    }

    /// Infeasible trial points (a start far from the root) are reported identically whichever block found
    /// the failure: every block throws the failure an unsplit solve would have thrown.
    func testFailuresAreReportedAsByAnUnsplitSolve() throws {
        let config = configPath("three-country.toml")
        var reports: [[String]] = [], summaries: [String] = [], statuses: [Int32] = []
        for ranks in [1, 4] {
            let out = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: out) }
            let r = try mpirun(ranks: ranks, ["solve", config, "--out", out, "--set", "equilibrium.rate=1.12",
                                              "--set", "parallel.grid_blocks=\"on\""])
            // From this start the root finder may give up (exit 3, the last iterate saved): the same on every layout.
            XCTAssertTrue(r.status == 0 || r.status == 3, r.stderr)
            statuses.append(r.status)
            let lines = (r.stderr + r.stdout).split(separator: "\n").map(String.init).filter { $0.contains("infeasible") }
            reports.append(lines)
            summaries.append(try summaryTextWithoutRunFields(out + "/summary.json"))
        }
        XCTAssertFalse(reports[0].isEmpty, "the start must produce infeasible trial points")
        XCTAssertTrue(reports[0].joined().contains("not increasing"), reports[0].joined(separator: "\n"))
        XCTAssertEqual(reports[0], reports[1])
        XCTAssertFalse(reports[1].joined().contains("another block"))
        XCTAssertEqual(statuses[0], statuses[1])
        XCTAssertEqual(summaries[0], summaries[1])
    }

    /// The household analysis of a country split over several ranks (its arrays gathered from the blocks)
    /// equals the 1-rank analysis: summary.json's analysis and solution.h5's analysis group.
    func testAnalysisOfASplitCountryEqualsOneRank() throws {
        let config = configPath("three-country.toml")
        var texts: [String] = [], groups: [String] = []
        for ranks in [1, 4] {
            let out = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: out) }
            let r = try mpirun(ranks: ranks, ["solve", config, "--out", out, "--set", "analysis.country=\"south\"",
                                              "--set", "parallel.grid_blocks=\"on\""])
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try readJSON(out + "/summary.json")
            if ranks == 4 { XCTAssertTrue((json["layout"] as? String ?? "").contains("SOUTH[s"), "SOUTH is split") }
            XCTAssertNotNil(json["analysis"])
            texts.append(try summaryTextWithoutRunFields(out + "/summary.json"))
            let d = try runProcess("/usr/bin/h5dump", ["-m", "%.17g", "-g", "/analysis", out + "/solution.h5"])
            XCTAssertEqual(d.status, 0, d.stderr)
            groups.append(d.stdout.replacingOccurrences(of: out, with: "OUT"))
        }
        XCTAssertEqual(texts[0], texts[1])
        XCTAssertEqual(groups[0], groups[1])
        XCTAssertGreaterThan(groups[0].count, 1000)
    }
}
