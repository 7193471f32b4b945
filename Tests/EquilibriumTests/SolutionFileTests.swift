import Equilibrium
import Foundation
import Output
import Storage
import TestSupport
import XCTest

/// solution.h5 written collectively (MPI-IO, here with one rank) reads back exactly as in memory.
final class SolutionFileTests: XCTestCase {
    func testSolutionRoundTrip() throws {
        let (config, result, evaluator) = try solve("three-country.toml", overrides: ["grid.assets=30"])
        let dir = temporaryDirectory()
        let path = dir + "/solution.h5"
        try writeSolution(path: path, config: config, result: result, evaluator: evaluator)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))
        let file = try HDF5File.open(path)
        let m = 3, s = evaluator.income.count, na = 30
        XCTAssertEqual(try file.shape("household/c"), [m, m, s, na])
        XCTAssertEqual(try file.shape("distribution"), [m, s, na])
        let c = try file.read("household/c"), a = try file.read("household/a_next")
        let pi = try file.read("household/pi"), v = try file.read("household/v"), lambda = try file.read("distribution")
        let block = m * s * na
        for i in 0..<m {
            let hh = evaluator.households[i]!
            XCTAssertEqual(Array(c[(i * block)..<((i + 1) * block)]), hh.consumption)
            XCTAssertEqual(Array(a[(i * block)..<((i + 1) * block)]), hh.assetPolicy)
            XCTAssertEqual(Array(pi[(i * block)..<((i + 1) * block)]), hh.choiceProbabilities)
            XCTAssertEqual(Array(v[(i * block)..<((i + 1) * block)]), hh.values)
            XCTAssertEqual(Array(lambda[(i * s * na)..<((i + 1) * s * na)]), evaluator.distributions[i]!.masses)
        }
        XCTAssertEqual(try file.read("prices/R"), result.prices.rates)
        XCTAssertEqual(try file.read("prices/wages"), result.prices.wages)
        XCTAssertEqual(try file.read("prices/beta"), [result.prices.beta])
        XCTAssertEqual(try file.read("income/log_z"), evaluator.income.logZ)
        XCTAssertEqual(try file.read("aggregates/trade_shares"), result.report.tradeShares.flatMap { $0 })
        XCTAssertEqual(try file.read("solver/residuals"), result.residuals)
        XCTAssertEqual(try file.attribute("/", "status"), "converged")
        XCTAssertEqual(try file.attribute("/", "closure"), "world-rate")
        XCTAssertEqual(try file.attribute("household/c", "dimensions"), "country, variety, income_state, asset")
        XCTAssertTrue(try file.attribute("/", "configuration").contains("[world]"))
        try? FileManager.default.removeItem(atPath: dir)
    }
}
