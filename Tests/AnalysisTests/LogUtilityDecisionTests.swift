import Analysis
import Equilibrium
import Foundation
import HATModel
import XCTest

/// Whether γ means log utility is decided once (`HouseholdProblem.isLogUtility(gamma:)`); the household
/// kernel, the country scaling A_i^(1−γ), the preflight checks and the planner must all follow it. Lives
/// here because this is the one test target that sees all four.
final class LogUtilityDecisionTests: XCTestCase {
    /// γ within the tolerance of 1, on both sides, and just outside it.
    let inside = [1.0, 1 + 1e-12, 1 - 1e-12, 1 + 1e-9]
    let outside = [1 + 1e-6, 1 - 1e-6, 1.45]

    func model(gamma: Double, assets: Int = 30) -> ModelParameters {
        ModelParameters(gamma: gamma, sigmaEps: 0.25, psiSlope: 0.5, phi: 0.5, amax: 8, assetPoints: assets,
                        income: IncomeProcess.Parameters(persistentStates: 3, transitoryStates: 2, rho: 0.9,
                                                         sigmaPersistent: 0.2, sigmaTransitory: 0.2))
    }

    func testEveryDecisionFollowsTheOneRule() {
        for gamma in inside + outside {
            let log = HouseholdProblem.isLogUtility(gamma: gamma)
            XCTAssertEqual(log, inside.contains(gamma), "gamma \(gamma)")
            XCTAssertEqual(model(gamma: gamma).isLogUtility, log)
            let scaling = CountryScaling(tfp: 2, model: model(gamma: gamma))
            // Log utility: the scale is exactly 1 (σ_i = σε); otherwise 2^(1−γ) ≠ 1.
            XCTAssertEqual(scaling.utilityScale == 1, log, "gamma \(gamma)")
            XCTAssertEqual(scaling.sigma == 0.25, log, "gamma \(gamma)")
        }
    }

    /// The household kernel takes the log branch for γ = 1 + 1e-12: its values are those of γ = 1 (to the
    /// 1e-12 in the inversion's exponent 1/γ), not CRRA's c^(1−γ)/(1−γ) ≈ −1e12.
    func testHouseholdTakesTheLogBranchInsideTheTolerance() throws {
        let m = model(gamma: 1), world = World(names: ["A", "B"], tfp: [1, 2], labor: [1, 1],
                                               tradeCosts: [1, 1.8, 1.8, 1])
        let income = IncomeProcess(m.income)
        let prices = Prices(wages: [1, 1], rates: [1.01, 1.01], beta: 0.92)
        func solve(_ gamma: Double) throws -> HouseholdSolver {
            let pr = world.householdProblem(country: 1, model: model(gamma: gamma), income: income, prices: prices)
            let hh = HouseholdSolver(assets: m.assetPoints, shocks: income.count, varieties: 2)
            try hh.solve(pr, tolerance: 1e-11, maxIterations: 2000)
            return hh
        }
        let exact = try solve(1), near = try solve(1 + 1e-12)
        for (a, b) in zip(exact.values, near.values) { XCTAssertEqual(a, b, accuracy: 1e-8 * abs(a)) }
        for (a, b) in zip(exact.consumption, near.consumption) { XCTAssertEqual(a, b, accuracy: 1e-8 * a) }
    }

    /// The preflight's overflow check on c^−γ is skipped for log utility: a trade cost of 1e301 puts
    /// consumption near 1e-301 (|log c| > 690), which CRRA refuses and log utility accepts.
    func testPreflightFollowsTheRule() {
        let world = World(names: ["A", "B"], tfp: [1, 1], labor: [1, 1], tradeCosts: [1, 1e301, 1e301, 1])
        let prices = Prices(wages: [1, 1], rates: [1.01, 1.01], beta: 0.92)
        for gamma in inside + outside {
            let m = model(gamma: gamma)
            let found = world.infeasibleStart(model: m, income: IncomeProcess(m.income), prices: prices,
                                              rateIsFixed: true)
            XCTAssertEqual(found?.key, HouseholdProblem.isLogUtility(gamma: gamma) ? nil : "model.gamma",
                           "gamma \(gamma)")
        }
    }

    /// The planner's log branch does not read γ: inside the tolerance its allocation is bitwise that of γ = 1.
    func testPlannerFollowsTheRule() throws {
        let world = World(names: ["A", "B", "C"], tfp: [1, 1.5, 0.7], labor: [1, 2, 1],
                          tradeCosts: [1, 1.7, 2, 1.7, 1, 1.9, 2, 1.9, 1])
        let exact = try EfficientAllocation.solve(world: world, model: model(gamma: 1))
        XCTAssertTrue(exact.converged)
        for gamma in inside.dropFirst() {
            let near = try EfficientAllocation.solve(world: world, model: model(gamma: gamma))
            XCTAssertEqual(near.consumption, exact.consumption, "gamma \(gamma)")
            XCTAssertEqual(near.choiceProbabilities, exact.choiceProbabilities, "gamma \(gamma)")
        }
        let crra = try EfficientAllocation.solve(world: world, model: model(gamma: 1 + 1e-6))
        XCTAssertNotEqual(crra.choiceProbabilities, exact.choiceProbabilities)
    }
}
