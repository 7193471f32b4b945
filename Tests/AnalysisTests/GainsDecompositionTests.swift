import Analysis
import Equilibrium
import Foundation
import HATConfig
import HATModel
import Parallel
import TestSupport
import XCTest

/// Proposition 2's split of the gains (and Proposition 3 under log utility), on the unilateral 10 % cut.
final class GainsDecompositionTests: XCTestCase {
    /// The decomposition of a configuration's unilateral 10 % cut of country 0's import costs, with the
    /// equilibria at h = 1 and h = ±step solved here as `hat counterfactual --decompose` does.
    func decomposition(_ name: String, overrides: [String], step: Double = 1e-3) throws -> (GainsDecomposition, HouseholdProblem) {
        let (config, baseline, evaluator) = try solve(name, overrides: overrides)
        XCTAssertTrue(baseline.converged)
        let old = try AnalysedHousehold.gather(country: 0, from: evaluator, prices: baseline.prices)
        let changed = try TradeExperiment.unilateral.apply(to: config.world, country: 0, factor: 0.9, tariff: 0)
        var problems: [HouseholdProblem] = []
        for h in [step, -step] {
            let world = GainsDecomposition.world(from: config.world, to: changed, at: h)
            XCTAssertEqual(world.tradeCost(importer: 0, exporter: 1), config.world.tradeCost(importer: 0, exporter: 1) * pow(0.9, h),
                           accuracy: 1e-14)
            var options = config.equilibrium
            options.closure = .worldRate(beta: baseline.prices.beta)
            options.start = EquilibriumStart(wages: baseline.prices.wages, rate: baseline.prices.rates[0], beta: baseline.prices.beta)
            let e = try WorldEvaluator(world: world, model: config.model, communicator: MPIEnvironment.world())
            let result = try solveEquilibrium(evaluator: e, options: options)
            XCTAssertTrue(result.converged)
            problems.append(world.householdProblem(country: 0, model: config.model, income: e.income, prices: result.prices))
        }
        return (try GainsDecomposition.compute(baseline: old.problem, plus: problems[0], minus: problems[1], step: step), old.problem)
    }

    /// A + B + C (the first two through the policy's transition operator, the third a difference of
    /// re-solved values) equals the differenced value at every state to 1e-6. C is a property of the
    /// discrete model, not of the step: the endogenous-grid policy solves the Euler equation, not the
    /// lottery-interpolated Bellman equation, so re-optimising adds a little at first order; it is small
    /// and halves, roughly, when the grid is twice as fine (the continuous model's envelope theorem makes
    /// it zero).
    func testSubstitutionFactorPricesAndAssetHoldingsAddUpToTheValueChange() throws {
        let (coarse, _) = try decomposition("two-country.toml", overrides: ["grid.assets=30", "income.persistent_states=3"])
        XCTAssertLessThan(coarse.identityGap, 1e-6)
        let largest = coarse.total.map(abs).max()!
        XCTAssertGreaterThan(largest, 0.01, "a 10 % cut moves the values")
        XCTAssertTrue(coarse.substitution.allSatisfy { $0 > 0 }, "cheaper imports: every state gains from substitution")
        XCTAssertGreaterThan(coarse.substitution.max()! - coarse.substitution.min()!, 0.1 * coarse.substitution.max()!,
                             "with CRRA utility the substitution gains differ across states")
        let cCoarse = coarse.assetHoldings.map(abs).max()!
        XCTAssertLessThan(cCoarse, 0.05 * largest)
        let (fine, _) = try decomposition("two-country.toml", overrides: ["grid.assets=60", "income.persistent_states=3"])
        XCTAssertLessThan(fine.identityGap, 1e-6)
        XCTAssertLessThan(fine.assetHoldings.map(abs).max()!, 0.75 * cCoarse, "C shrinks with the grid")
        // The step is a central difference's: the totals at two steps agree to its O(step²).
        let (half, _) = try decomposition("two-country.toml", overrides: ["grid.assets=30", "income.persistent_states=3"], step: 5e-4)
        for k in coarse.total.indices {
            XCTAssertEqual(half.total[k], coarse.total[k], accuracy: 1e-6 * largest)
            XCTAssertEqual(half.assetHoldings[k], coarse.assetHoldings[k], accuracy: 1e-6 * largest)
        }
    }

    /// Log utility (Proposition 3): the substitution term is 1/(θ(1−β)) d log π_ii with θ = −1/σ, at every
    /// state. (With CRRA utility it is not: the test above has it vary across states.)
    func testLogUtilitySubstitutionIsTheHomeShareChangeOverTheElasticity() throws {
        let (d, problem) = try decomposition("two-country-log.toml", overrides: ["grid.assets=30", "income.persistent_states=3"])
        XCTAssertTrue(problem.isLogUtility)
        let theta = -1 / problem.sigma
        // Equal to the central differences' O(step²), and the same at every state (π does not depend on it).
        var worst = 0.0
        for k in d.substitution.indices {
            let expected = d.homeShareChange[k] / (theta * (1 - problem.beta))
            worst = max(worst, abs(d.substitution[k] - expected) / abs(expected))
        }
        XCTAssertLessThan(worst, 1e-7)
        XCTAssertGreaterThan(d.substitution[0], 0)
        for k in d.substitution.indices { XCTAssertEqual(d.substitution[k], d.substitution[0], accuracy: 1e-10 * d.substitution[0]) }
        XCTAssertLessThan(d.identityGap, 1e-6)
    }
}
