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

    /// The budget with a transfer τ and a resource scale λτ, written out here independently of the kernel:
    /// p_j c + a′ = λ (R a + w z) + τ in every state, and consumption is positive.
    func testBudgetWithTransferAndResourceScale() throws {
        var pr = problem(gamma: 1.45, sigma: 0.33, prices: [1, 1.5, 1.9], psi: 0.725)
        pr.transfer = 0.07
        pr.resourceScale = 1.13
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 1e-10)
        let c = hh.consumption, a1 = hh.assetPolicy
        for s in 0..<income.count {
            for a in 0..<100 {
                for j in 0..<3 {
                    let k = hh.index(variety: j, shock: s, asset: a)
                    let resources = 1.13 * (pr.rate * pr.assets[a] + pr.wage * income.z[s]) + 0.07
                    XCTAssertEqual(pr.prices[j] * c[k] + a1[k], resources, accuracy: 1e-12)
                    XCTAssertGreaterThan(c[k], 0)
                }
            }
        }
    }

    /// λτ scales total resources and the return on saving alike: the problem with (λ, R, w) is the problem
    /// with (1, λR, λw). This checks λ in the budget, the EGM inversion and the Euler equation at once.
    func testResourceScaleEqualsScaledRateAndWage() throws {
        var scaled = problem(gamma: 1.45, sigma: 0.33, prices: [1, 1.6], psi: 0.4, wage: 0.9, rate: 1.005)
        scaled.resourceScale = 1.08
        let plain = problem(gamma: 1.45, sigma: 0.33, prices: [1, 1.6], psi: 0.4, wage: 0.9 * 1.08, rate: 1.005 * 1.08)
        let a = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        let b = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        try a.solve(scaled, tolerance: 1e-12)
        try b.solve(plain, tolerance: 1e-12)
        for (x, y) in zip(a.assetPolicy, b.assetPolicy) { XCTAssertEqual(x, y, accuracy: 1e-9) }
        for (x, y) in zip(a.choiceProbabilities, b.choiceProbabilities) { XCTAssertEqual(x, y, accuracy: 1e-9) }
    }

    /// A transfer τ is extra income in every state: the problem with τ equals the problem without it whose
    /// efficiency levels are z + τ/(λ w). Checks the sign and scale of τ in the budget and the EGM inversion.
    func testTransferEqualsExtraIncome() throws {
        var withTransfer = problem(gamma: 2, sigma: 0.3, prices: [1, 1.4], wage: 1.1, rate: 1.01)
        withTransfer.transfer = 0.05
        withTransfer.resourceScale = 0.97
        var shifted = problem(gamma: 2, sigma: 0.3, prices: [1, 1.4], wage: 1.1, rate: 1.01)
        shifted.income = income.withLevels(income.z.map { $0 + 0.05 / (0.97 * 1.1) })
        shifted.resourceScale = 0.97
        let a = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        let b = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        try a.solve(withTransfer, tolerance: 1e-12)
        try b.solve(shifted, tolerance: 1e-12)
        for (x, y) in zip(a.consumption, b.consumption) { XCTAssertEqual(x, y, accuracy: 1e-9) }
        for (x, y) in zip(a.assetPolicy, b.assetPolicy) { XCTAssertEqual(x, y, accuracy: 1e-9) }
        // And the transfer matters: without it the policies differ.
        let c = HouseholdSolver(assets: 100, shocks: income.count, varieties: 2)
        var none = withTransfer
        none.transfer = 0
        try c.solve(none, tolerance: 1e-12)
        XCTAssertGreaterThan(zip(a.consumption, c.consumption).map { abs($0 - $1) }.max()!, 1e-3)
    }

    /// a′ stays on the grid's span and the choice probabilities of each state sum to one.
    func testPoliciesStayOnTheGridAndProbabilitiesSumToOne() throws {
        let pr = problem(gamma: 1.45, sigma: 0.33, prices: [1, 1.5, 1.9], psi: 0.725)
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 1e-10)
        let a1 = hh.assetPolicy, pi = hh.choiceProbabilities
        for s in 0..<income.count {
            for a in 0..<100 {
                var total = 0.0
                for j in 0..<3 {
                    let k = hh.index(variety: j, shock: s, asset: a)
                    XCTAssertGreaterThanOrEqual(a1[k], pr.assets.first!)
                    XCTAssertLessThanOrEqual(a1[k], pr.assets.last!)
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
            guard case let .nonPositiveConsumption(a, s, j, iteration, c)? = error as? HouseholdError else {
                return XCTFail("\(error)")
            }
            // The poorest state at the borrowing limit cannot pay 3.5 × 0.5 of interest on 0.01 × z of wage.
            XCTAssertEqual(a, 0); XCTAssertEqual(s, 0)
            XCTAssertTrue((0..<2).contains(j)); XCTAssertEqual(iteration, 0)   // the initial guess itself
            XCTAssertLessThan(c, 0)
            XCTAssertTrue("\(error)".contains("asset 1, shock 1"), "\(error)")
        }
    }

    /// The stationary distribution is a probability vector and a fixed point of the push-forward.
    func testStationaryDistributionIsInvariant() throws {
        let pr = problem(gamma: 1.45, sigma: 0.33, prices: [1, 1.5, 1.9], psi: 0.725)
        let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 3)
        try hh.solve(pr, tolerance: 1e-10)
        let dist = StationaryDistribution(assets: 100, shocks: income.count)
        let stats = try dist.solve(household: hh, transition: income.transition, tolerance: 1e-12)
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
