import Equilibrium
import Foundation
import HATConfig
import HATModel
import Output
import Parallel
import Solvers
import Storage
import TestSupport
import XCTest

/// Issue 6 §3: tariffs checked independently, the author's state-level choice probabilities, and the
/// world-level failure paths (a country that cannot be solved, inner iteration caps).
final class FailureAndTariffTests: XCTestCase {
    /// Goods markets with tariffs, recomputed here from the reported flows: producer j receives
    /// Σ_i M_ij/(1+t_ij). Markets 2..M clear; the dropped market 1 then shows exactly the tariff revenue
    /// T = Σ M_ij t_ij/(1+t_ij) as excess supply (the revenue is not rebated, so Walras' law leaves it there).
    func testTariffEquilibriumClearsProducerMarkets() throws {
        let tariffs = "[[0.0, 0.1, 0.2], [0.05, 0.0, 0.15], [0.3, 0.1, 0.0]]"
        let (config, result, _) = try solve("three-country.toml", overrides: ["world.tariffs=\(tariffs)", "grid.assets=40"])
        XCTAssertTrue(result.converged, "\(result.reason)")
        let m = 3, flows = result.report.tradeFlows, output = result.report.output
        let t = [[0.0, 0.1, 0.2], [0.05, 0.0, 0.15], [0.3, 0.1, 0.0]]
        XCTAssertEqual(config.world.tariffs, t.flatMap { $0 })
        var revenue = 0.0
        for i in 0..<m { for j in 0..<m { revenue += flows[i][j] * t[i][j] / (1 + t[i][j]) } }
        XCTAssertGreaterThan(revenue, 1e-2)
        for j in 0..<m {
            var receipts = 0.0
            for i in 0..<m { receipts += flows[i][j] / (1 + t[i][j]) }
            XCTAssertEqual(output[j] - receipts, j == 0 ? revenue : 0, accuracy: 1e-6, "producer \(j + 1)")
        }
        // Buyer prices carry the tariff: p_ij = w_j/A_j d_ij (1 + t_ij).
        let p = config.world.buyerPrices(importer: 2, wages: result.prices.wages)
        XCTAssertEqual(p[0], result.prices.wages[0] / 1.0 * 1.5 * 1.3, accuracy: 1e-14)
    }

    /// HAT-SPEC §8.2 [C]: π_12 at (a, s) = (1, 1), (1, 10), (100, 10) at the published two-country solution.
    func testTwoCountryChoiceProbabilitiesMatchTheAuthorStateByState() throws {
        let (_, result, evaluator) = try solve("two-country.toml")
        XCTAssertTrue(result.converged)
        let hh = evaluator.households[0]!          // holds the reporting evaluation (household tolerance 1e-10)
        let pi = hh.choiceProbabilities
        XCTAssertEqual(pi[hh.index(variety: 1, shock: 0, asset: 0)], 0.00747609, accuracy: 5e-9)
        XCTAssertEqual(pi[hh.index(variety: 1, shock: 9, asset: 0)], 0.138619, accuracy: 5e-7)
        XCTAssertEqual(pi[hh.index(variety: 1, shock: 9, asset: 99)], 0.182546, accuracy: 5e-7)
    }

    /// Prices at which a country cannot be solved: the evaluator names the country and the state, the
    /// residual is NaN where (and only where) it depends on that country, and nothing NaN is ever written.
    func testInfeasiblePricesAreNamedAndNeverWrittenAsNaN() throws {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"), overrides: ["grid.assets=30"])
        let evaluator = try WorldEvaluator(world: config.world, model: config.model, communicator: MPIEnvironment.world())
        let prices = Prices(wages: [1, 1, 1], rates: [1.01, 5, 1.01], beta: 0.93)
        let out = try evaluator.evaluate(prices: prices, options: config.equilibrium.evaluation)
        XCTAssertEqual(out.countries.map(\.failed), [false, true, false])
        XCTAssertEqual(out.countries[1].failure?.kind, .nonPositiveConsumption)
        XCTAssertEqual(out.countries[1].failure?.asset, 1)
        XCTAssertTrue(out.failureSummary(names: config.world.names).hasPrefix("SOUTH: consumption"))
        let autarky = Closure.autarky.residuals(out, world: config.world)
        XCTAssertEqual(autarky.map(\.isFinite), [true, false, true, false, false])

        // A solve started there (the command line refuses such a start; the library may still be asked).
        var options = config.equilibrium
        options.start.rate = 5
        let result = try solveEquilibrium(evaluator: evaluator, options: options)
        XCTAssertEqual(result.reason, .nonFiniteInitialResidual)
        XCTAssertTrue(result.report.failed)
        let json = summaryJSON(config: config, result: result, ranks: 1, wallSeconds: 0).rendered()
        XCTAssertFalse(json.contains("null") || json.lowercased().contains("nan"), json)
        XCTAssertTrue(json.contains("\"failed_countries\""), json)
        let dir = temporaryDirectory()
        try writeSolution(path: dir + "/solution.h5", config: config, result: result, evaluator: evaluator)
        let file = try HDF5File.open(dir + "/solution.h5")
        XCTAssertThrowsError(try file.shape("household/c"))
        for name in ["prices/wages", "prices/R", "solver/unknowns", "world/trade_costs"] {
            XCTAssertTrue(try file.read(name).allSatisfy { $0.isFinite }, name)
        }
        XCTAssertTrue(try file.attribute("/", "failed_countries").contains("consumption"))
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Inner iteration caps that bind are reported per country, in the result and in summary.json.
    func testInnerIterationCapsAreFlagged() throws {
        let config = try ConfigurationLoader.load(path: configPath("two-country.toml"), overrides: ["grid.assets=30"])
        var options = config.equilibrium
        options.evaluation.householdMaxIterations = 3
        options.evaluation.distributionMaxIterations = 4
        options.maxIterations = 2
        let evaluator = try WorldEvaluator(world: config.world, model: config.model, communicator: MPIEnvironment.world())
        let result = try solveEquilibrium(evaluator: evaluator, options: options)
        XCTAssertEqual(result.report.countries.map(\.household.converged), [false, false])
        XCTAssertEqual(result.report.countries.map(\.household.iterations), [3, 3])
        XCTAssertEqual(result.report.countries.map(\.distribution.converged), [false, false])
        let json = summaryJSON(config: config, result: result, ranks: 1, wallSeconds: 0).rendered()
        XCTAssertTrue(json.contains("\"household_converged\": [false, false]"), json)
        XCTAssertTrue(json.contains("\"distribution_converged\": [false, false]"), json)
    }

    /// The issue's fixed-rate starts that used to fail (flat region; a stalled difference step) converge, to
    /// the root the easy start finds.
    func testIssueStartsConverge() throws {
        for (name, beta) in [("three-country.toml", 0.83), ("two-country.toml", 0.85), ("two-country-log.toml", 0.90)] {
            let overrides = ["equilibrium.closure=\"fixed-rate\"", "equilibrium.rate=1.01"]
            let (_, hard, _) = try solve(name, overrides: overrides + ["model.beta=\(beta)"])
            let (_, easy, _) = try solve(name, overrides: overrides + ["model.beta=0.93"])
            XCTAssertTrue(hard.converged, "\(name) beta0 \(beta): \(hard.reason) \(hard.reasonDetail)")
            XCTAssertLessThanOrEqual(hard.residualMax, 1e-10)
            XCTAssertEqual(hard.prices.beta, easy.prices.beta, accuracy: 1e-9)
            for (a, b) in zip(hard.prices.wages, easy.prices.wages) { XCTAssertEqual(a, b, accuracy: 1e-9) }
        }
    }

    /// A tolerance below what the residual can resolve ends with the noise-floor reason, whose detail names
    /// the measured noise and the key to change.
    func testToleranceBelowTheNoiseStopsWithTheReason() throws {
        let (_, result, _) = try solve("three-country.toml", overrides: ["equilibrium.tolerance=1e-17", "grid.assets=40"])
        XCTAssertEqual(result.reason, .noiseFloor)
        XCTAssertNotNil(result.residualNoise)
        XCTAssertTrue(result.reasonDetail.contains("equilibrium.tolerance"), result.reasonDetail)
        XCTAssertTrue(result.reasonDetail.contains("noise"), result.reasonDetail)
        XCTAssertLessThan(result.residualMax, 1e-12)
    }
}
