import Foundation
import HATModel
import XCTest

final class HouseholdTests: XCTestCase {
    let income = IncomeProcess(.baseline)

    func problem(gamma: Double, sigma: Double = 0.25, prices: [Double], psi: Double = 0, wage: Double = 1,
                 rate: Double = 1.01, beta: Double = 0.92, points: Int = 100) -> HouseholdProblem {
        HouseholdProblem(assets: assetGrid(points: points, borrowingLimit: 0.5, top: 8, tfp: 1), income: income,
                         gamma: gamma, beta: beta, sigma: sigma, home: 0,
                         homeQuality: income.logPersistent.map { psi * $0 }, prices: prices, wage: wage, rate: rate)
    }

    /// HAT-SPEC §6.8: with log utility and no quality shifter, π_j/π_i = (p_j/p_i)^(−1/σ) in every state.
    func testLogUtilityGivesExactGravityInEveryState() throws {
        let pr = problem(gamma: 1, prices: [1, 2.05])
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        try hh.solve(pr, tolerance: 1e-10)
        let pi = hh.choiceProbabilities
        let expected = Foundation.pow(2.05, -4.0) / (1 + Foundation.pow(2.05, -4.0))
        for s in 0..<income.count {
            for a in 0..<100 {
                XCTAssertEqual(pi[hh.index(variety: 1, shock: s, asset: a)], expected, accuracy: 1e-12)
            }
        }
    }

    /// With log utility, expenditure p_j c_j and savings do not depend on the variety chosen.
    func testLogUtilityExpenditureIndependentOfVariety() throws {
        let pr = problem(gamma: 1, prices: [1, 1.7, 2.3])
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 1e-10)
        let c = hh.consumption, a1 = hh.assetPolicy
        for s in 0..<income.count {
            for a in 0..<100 {
                let e0 = c[hh.index(variety: 0, shock: s, asset: a)]
                for j in 1..<3 {
                    XCTAssertEqual(c[hh.index(variety: j, shock: s, asset: a)] * pr.prices[j], e0, accuracy: 1e-9)
                    XCTAssertEqual(a1[hh.index(variety: j, shock: s, asset: a)], a1[hh.index(variety: 0, shock: s, asset: a)], accuracy: 1e-9)
                }
            }
        }
    }

    /// Budget p_j c + a′ = R a + w z holds exactly, a′ stays on the grid's span, and the choice
    /// probabilities sum to one.
    func testBudgetAndBoundsHold() throws {
        let pr = problem(gamma: 1.45, sigma: 0.33, prices: [1, 1.5, 1.9], psi: 0.725)
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 1e-10)
        let c = hh.consumption, a1 = hh.assetPolicy, pi = hh.choiceProbabilities
        for s in 0..<income.count {
            for a in 0..<100 {
                var total = 0.0
                for j in 0..<3 {
                    let k = hh.index(variety: j, shock: s, asset: a)
                    XCTAssertEqual(pr.prices[j] * c[k] + a1[k], pr.rate * pr.assets[a] + pr.wage * income.z[s], accuracy: 1e-12)
                    XCTAssertGreaterThanOrEqual(a1[k], pr.assets.first!)
                    XCTAssertLessThanOrEqual(a1[k], pr.assets.last!)
                    XCTAssertGreaterThan(c[k], 0)
                    total += pi[k]
                }
                XCTAssertEqual(total, 1, accuracy: 1e-14)
            }
        }
    }

    /// Higher quality of the home variety for higher persistent income raises its choice probability.
    func testQualityShifterTiltsRichTowardsHome() throws {
        let pr = problem(gamma: 1.45, sigma: 0.33, prices: [1, 1], psi: 0.725)
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        try hh.solve(pr, tolerance: 1e-10)
        let pi = hh.choiceProbabilities
        XCTAssertLessThan(pi[hh.index(variety: 0, shock: 0, asset: 50)], 0.5)
        XCTAssertGreaterThan(pi[hh.index(variety: 0, shock: 9, asset: 50)], 0.5)
    }

    /// A warm start from the converged solution converges at once to the same policies.
    func testWarmStartReusesTheSolution() throws {
        let pr = problem(gamma: 1.5, prices: [1, 1.745])
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        let cold = try hh.solve(pr, tolerance: 1e-10)
        let c0 = hh.consumption
        let warm = try hh.solve(pr, tolerance: 1e-10, warmStart: true)
        XCTAssertGreaterThan(cold.iterations, 50)
        XCTAssertLessThanOrEqual(warm.iterations, 2)
        for (a, b) in zip(hh.consumption, c0) { XCTAssertEqual(a, b, accuracy: 1e-9) }
    }

    /// Iteration counts of HAT-SPEC §2.2 (re-implementation, tol 1e-10): two-country γ = 1.5 takes 103.
    func testIterationCountOfTheTwoCountryHousehold() throws {
        let pr = problem(gamma: 1.5, prices: [1, 1.745], rate: 1.0141938127868286)
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        let stats = try hh.solve(pr, tolerance: 1e-10)
        XCTAssertTrue(stats.converged)
        XCTAssertEqual(Double(stats.iterations), 103, accuracy: 2)
    }

    /// Infeasible prices are an error naming the state, not a NaN.
    func testInfeasiblePricesThrow() {
        let pr = problem(gamma: 1.5, prices: [1, 1.745], wage: 0.01, rate: 3.5)
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        XCTAssertThrowsError(try hh.solve(pr, tolerance: 1e-10)) { error in
            XCTAssertTrue(error is HouseholdError, "\(error)")
        }
    }

    /// The stationary distribution is a probability vector and a fixed point of the push-forward.
    func testStationaryDistributionIsInvariant() throws {
        let pr = problem(gamma: 1.45, sigma: 0.33, prices: [1, 1.5, 1.9], psi: 0.725)
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 1e-10)
        let dist = StationaryDistribution(assets: 100, shocks: income.count)
        let stats = dist.solve(household: hh, transition: income.transition, tolerance: 1e-12)
        XCTAssertTrue(stats.converged)
        let lambda = dist.masses
        XCTAssertEqual(lambda.reduce(0, +), 1, accuracy: 1e-10)
        XCTAssertTrue(lambda.allSatisfy { $0 >= 0 })
        // Marginal over shocks equals the income process's stationary distribution.
        for s in 0..<income.count {
            XCTAssertEqual(lambda[(s * 100)..<((s + 1) * 100)].reduce(0, +), income.stationary[s], accuracy: 1e-9)
        }
        // One more push-forward (dense reference, built here from the lotteries) leaves λ unchanged.
        var next = [Double](repeating: 0, count: 1000)
        let a1 = hh.assetPolicy, pi = hh.choiceProbabilities
        for s in 0..<10 {
            for a in 0..<100 {
                for j in 0..<3 {
                    let k = hh.index(variety: j, shock: s, asset: a)
                    let h = pr.assets.firstIndex { $0 >= a1[k] }!
                    let l = max(h - 1, 0)
                    var w = 1 - (a1[k] - pr.assets[l]) / (pr.assets[h] - pr.assets[l])
                    if w.isNaN { w = 1 }
                    for t in 0..<10 {
                        let p = income.transition[s * 10 + t]
                        next[t * 100 + l] += lambda[s * 100 + a] * w * p * pi[k]
                        next[t * 100 + h] += lambda[s * 100 + a] * (1 - w) * p * pi[k]
                    }
                }
            }
        }
        for k in 0..<1000 { XCTAssertEqual(next[k], lambda[k], accuracy: 1e-11) }
    }

    func testAssetGridSpansScaledLimits() {
        let grid = assetGrid(points: 100, borrowingLimit: 0.5, top: 8, tfp: 2)
        XCTAssertEqual(grid.first, -1)
        XCTAssertEqual(grid.last, 16)
        XCTAssertEqual(grid[1] - grid[0], 17.0 / 99, accuracy: 1e-14)
    }
}
