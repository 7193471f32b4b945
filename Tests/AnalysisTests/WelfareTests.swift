import Analysis
import Equilibrium
import Foundation
import HATConfig
import HATModel
import Parallel
import TestSupport
import XCTest

/// The equivalent variation (§6.5) and the planner (§6.6).
final class WelfareTests: XCTestCase {
    /// For every state, the household at the old prices with the EV multiplier has its new value (1e-9), by
    /// an independent re-solve of each state with the documented procedure; every flag is set.
    func testEveryStateValueMatchesAtItsMultiplier() throws {
        let overrides = ["grid.assets=30", "income.persistent_states=3"]
        let (config, baseline, evaluator) = try solve("two-country.toml", overrides: overrides)
        XCTAssertTrue(baseline.converged)
        let old = try AnalysedHousehold.gather(country: 0, from: evaluator, prices: baseline.prices)
        // The unilateral 10 % cut, solved at the baseline's β from the baseline's prices.
        let newWorld = try TradeExperiment.unilateral.apply(to: config.world, country: 0, factor: 0.9, tariff: 0)
        XCTAssertEqual(newWorld.tradeCost(importer: 0, exporter: 1), 0.9 * 1.745)
        XCTAssertEqual(newWorld.tradeCost(importer: 1, exporter: 0), 1.745)
        var options = config.equilibrium
        options.closure = .worldRate(beta: baseline.prices.beta)
        options.start = EquilibriumStart(wages: baseline.prices.wages, rate: baseline.prices.rates[0], beta: baseline.prices.beta)
        let cfEvaluator = try WorldEvaluator(world: newWorld, model: config.model, communicator: MPIEnvironment.world())
        let cf = try solveEquilibrium(evaluator: cfEvaluator, options: options)
        XCTAssertTrue(cf.converged)
        let new = try AnalysedHousehold.gather(country: 0, from: cfEvaluator, prices: cf.prices)
        let target = new.exAnteValues
        let ev = try EquivalentVariation.compute(old: old.problem, target: target, communicator: MPIEnvironment.world())
        XCTAssertEqual(ev.multipliers.count, old.stateCount)
        XCTAssertEqual(ev.unconvergedCount, 0)
        let solver = HouseholdSolver(assets: old.assetCount, shocks: old.shockCount, varieties: 2)
        for k in 0..<old.stateCount {
            var pr = old.problem
            pr.resourceScale = ev.multipliers[k]
            let stats = try solver.solve(pr, tolerance: 0, maxIterations: ev.steps)
            XCTAssertLessThan(stats.policyChange, 1e-12, "state \(k): the policy met the author's tolerance")
            let v = AnalysedHousehold.exAnteValues(problem: pr, values: solver.values)[k]
            XCTAssertEqual(v, target[k], accuracy: 1e-9, "state \(k)")
            XCTAssertEqual(v - target[k], ev.residuals[k], accuracy: 1e-15, "the recorded residual is the re-solved one")
        }
        // Without sharing the first solves (large grids), every state still converges to the same roots
        // within the tolerance.
        var alone = EquivalentVariation.Settings()
        alone.shareLimit = 0
        let unshared = try EquivalentVariation.compute(old: old.problem, target: target, settings: alone, communicator: MPIEnvironment.world())
        XCTAssertEqual(unshared.unconvergedCount, 0)
        XCTAssertGreaterThanOrEqual(unshared.totalSolves, ev.totalSolves)
        for k in 0..<old.stateCount { XCTAssertEqual(unshared.multipliers[k], ev.multipliers[k], accuracy: 1e-10) }
        // Cheaper imports: the gains are positive for the median household, and the multiplier is not the
        // bracket's edge.
        XCTAssertGreaterThan(ev.multipliers[old.stateCount / 2], 1)
        XCTAssertTrue(ev.multipliers.allSatisfy { $0 > 0.9 && $0 < 1.2 })
    }

    /// A state whose new value equals its old value has λ = 1: the EV of "no change" is zero.
    func testNoChangeGivesUnitMultipliers() throws {
        let (_, _, old) = try analysed("two-country.toml", overrides: ["grid.assets=20", "income.persistent_states=2"])
        // The target: V at the old prices with λ = 1 by the same fixed-step procedure.
        var settings = EquivalentVariation.Settings()
        settings.nodes = 9
        let probe = try EquivalentVariation.compute(old: old.problem, target: old.exAnteValues, settings: settings,
                                                    communicator: MPIEnvironment.world())
        let solver = HouseholdSolver(assets: old.assetCount, shocks: old.shockCount, varieties: 2)
        try solver.solve(old.problem, tolerance: 0, maxIterations: probe.steps)
        let target = AnalysedHousehold.exAnteValues(problem: old.problem, values: solver.values)
        let ev = try EquivalentVariation.compute(old: old.problem, target: target, settings: settings,
                                                 communicator: MPIEnvironment.world())
        XCTAssertEqual(ev.steps, probe.steps)
        for k in 0..<old.stateCount {
            XCTAssertTrue(ev.converged[k])
            XCTAssertEqual(ev.multipliers[k], 1, accuracy: 1e-9, "state \(k)")
        }
    }

    /// The planner with log utility gives exact gravity with elasticity −1/σ (Prop. 4: −u′(c)c/σ = −1/σ).
    func testPlannerWithLogUtilityIsExactGravity() throws {
        let config = try ConfigurationLoader.load(path: configPath("two-country-log.toml"))
        let plan = try EfficientAllocation.solve(world: config.world, model: config.model)
        XCTAssertTrue(plan.converged)
        let sigma = config.model.sigmaEps, d = config.world.tradeCost(importer: 0, exporter: 1)
        let share = pow(d, -1 / sigma) / (1 + pow(d, -1 / sigma))
        XCTAssertEqual(plan.tradeShares[1], share, accuracy: 1e-12)
        XCTAssertEqual(plan.tradeShares[2], share, accuracy: 1e-12)
        for e in plan.elasticities { XCTAssertEqual(e, -1 / sigma, accuracy: 1e-12) }
        for r in plan.residuals { XCTAssertEqual(r, 0, accuracy: 1e-10) }
    }

    /// Proposition 4: the planner's welfare responds to a trade cost by the envelope term ψ_i σ_i θ_ij π_ij L_i
    /// (per period). Checked against central differences of W with the planner re-solved at d_ij e^{±h}, for
    /// every pair (own costs included), with CRRA utility on an asymmetric world and with log utility.
    func testPlannerWelfareDerivativeIsPropositionFour() throws {
        for name in ["three-country.toml", "two-country-log.toml"] {
            let config = try ConfigurationLoader.load(path: configPath(name))
            let world = config.world, m = world.count
            let plan = try EfficientAllocation.solve(world: world, model: config.model, tolerance: 1e-13)
            XCTAssertTrue(plan.converged, name)
            let h = 1e-4
            for i in 0..<m {
                for j in 0..<m {
                    func welfare(_ step: Double) throws -> Double {
                        var shifted = world
                        shifted.tradeCosts[i * m + j] *= exp(step)
                        let p = try EfficientAllocation.solve(world: shifted, model: config.model, tolerance: 1e-13)
                        XCTAssertTrue(p.converged, "\(name) (\(i), \(j))")
                        return p.welfare
                    }
                    let difference = (try welfare(h) - welfare(-h)) / (2 * h)
                    let formula = plan.welfareDerivatives[i * m + j]
                    XCTAssertLessThan(formula, 0, "a higher cost lowers welfare")
                    XCTAssertEqual(formula, difference, accuracy: 1e-6 * max(1, abs(difference)), "\(name) (\(i), \(j))")
                    // The same number through the elasticity: ψ_i σ_i θ_ij π_ij L_i.
                    let sigma = CountryScaling(tfp: world.tfp[i], model: config.model).sigma
                    XCTAssertEqual(formula, world.tfp[i] * sigma * plan.elasticities[i * m + j] * plan.choiceProbabilities[i * m + j] * world.labor[i],
                                   accuracy: 1e-15 * abs(formula))
                }
            }
        }
    }

    /// With CRRA utility on an asymmetric world the planner clears every resource constraint and its shares
    /// are proper (rows sum to one, positive).
    func testPlannerClearsResourcesOnAsymmetricWorld() throws {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"))
        let plan = try EfficientAllocation.solve(world: config.world, model: config.model)
        XCTAssertTrue(plan.converged)
        for r in plan.residuals { XCTAssertEqual(r, 0, accuracy: 1e-10) }
        let m = config.world.count
        for i in 0..<m {
            XCTAssertEqual((0..<m).map { plan.tradeShares[i * m + $0] }.reduce(0, +), 1, accuracy: 1e-14)
            for j in 0..<m { XCTAssertGreaterThan(plan.tradeShares[i * m + j], 0); XCTAssertLessThan(plan.elasticities[i * m + j], 0) }
        }
    }

    /// Tariffs with lump-sum rebates (§4.3 (d)): the rebate closure balances every government budget, the
    /// transfer is the revenue per capita, and countries without tariffs get none.
    func testTariffRevenueIsRebatedPerCapita() throws {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"), overrides: ["grid.assets=30"])
        let world = try TradeExperiment.tariff(partner: nil).apply(to: config.world, country: 2, factor: 1, tariff: 0.1)
        XCTAssertEqual(world.tariff(importer: 2, exporter: 0), 0.1, accuracy: 1e-15)
        XCTAssertEqual(world.tariff(importer: 0, exporter: 2), 0)
        var options = config.equilibrium
        options.closure = .worldRateRebate(beta: config.equilibrium.closure.parameter.value, rebating: world.rebatingCountries)
        XCTAssertEqual(options.closure.rebating, [2])
        let evaluator = try WorldEvaluator(world: world, model: config.model, communicator: MPIEnvironment.world())
        let r = try solveEquilibrium(evaluator: evaluator, options: options)
        XCTAssertTrue(r.converged, "\(r.reason)")
        let flows = r.report.tradeFlows
        let revenue: Double = 0.1 / 1.1 * (flows[2][0] + flows[2][1])
        XCTAssertGreaterThan(r.prices.transfers[2], 0)
        XCTAssertEqual(r.prices.transfers[2] * world.labor[2], revenue, accuracy: 1e-8)
        XCTAssertEqual(r.prices.transfers[0], 0, accuracy: 1e-10)
        XCTAssertEqual(r.prices.transfers[1], 0, accuracy: 1e-10)
    }
}
