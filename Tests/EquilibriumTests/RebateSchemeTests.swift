import Equilibrium
import Foundation
import HATConfig
import HATModel
import Parallel
import TestSupport
import XCTest

/// Rebate schemes of tariff revenue: the profiles over income states, the household with per-state
/// transfers, and the equilibria of a small world with a tariff under each scheme.
final class RebateSchemeTests: XCTestCase {
    // MARK: - Profiles

    /// Every paying profile has mean one under the stationary distribution; labour-income is ∝ z; the
    /// bottom quintile pays exactly a mass 0.2, nothing above its margin and everything below it.
    func testProfilesHaveMeanOneAndTheirShapes() throws {
        XCTAssertEqual(RebateScheme.allCases.map(\.rawValue), ["per-capita", "labour-income", "bottom-quintile", "discard"])
        XCTAssertEqual(RebateScheme(rawValue: "labour-income"), .labourIncome)
        let processes = [IncomeProcess(.baseline),
                         IncomeProcess(.init(persistentStates: 7, transitoryStates: 3, rho: 0.95, sigmaPersistent: 0.3, sigmaTransitory: 0.2)),
                         // Two states of mass 1/2: the lowest state alone is more than the bottom fifth.
                         IncomeProcess(.init(persistentStates: 2, transitoryStates: 1, rho: 0.5, sigmaPersistent: 0.2, sigmaTransitory: 0))]
        for income in processes {
            let pi = income.stationary, z = income.z
            func mean(_ x: [Double]) -> Double { zip(pi, x).reduce(0) { $0 + $1.0 * $1.1 } }
            XCTAssertEqual(RebateScheme.perCapita.profile(for: income), [Double](repeating: 1, count: income.count))
            XCTAssertNil(RebateScheme.discard.profile(for: income))
            for scheme in RebateScheme.allCases where scheme.pays {
                let phi = try XCTUnwrap(scheme.profile(for: income))
                XCTAssertEqual(phi.count, income.count)
                XCTAssertEqual(mean(phi), 1, accuracy: 1e-14, "\(scheme)")
                XCTAssertTrue(phi.allSatisfy { $0 >= 0 }, "\(scheme)")
            }
            let labour = try XCTUnwrap(RebateScheme.labourIncome.profile(for: income))
            for s in 0..<income.count { XCTAssertEqual(labour[s], z[s] / mean(z), accuracy: 1e-15) }
            XCTAssertNotEqual(labour.min(), labour.max())

            let shares = RebateScheme.bottomShares(z: z, stationary: pi)
            XCTAssertEqual(mean(shares), 0.2, accuracy: 1e-15)
            let bottom = try XCTUnwrap(RebateScheme.bottomQuintile.profile(for: income))
            for s in 0..<income.count { XCTAssertEqual(bottom[s], shares[s] / 0.2, accuracy: 1e-15) }
            // The margin: one state split; every poorer state fully in, every richer one out.
            let split = (0..<income.count).filter { shares[$0] > 0 && shares[$0] < 1 }
            XCTAssertLessThanOrEqual(split.count, 1)
            let margin = split.first.map { z[$0] } ?? (0..<income.count).filter { shares[$0] == 1 }.map { z[$0] }.max()!
            for s in 0..<income.count {
                if z[s] < margin { XCTAssertEqual(shares[s], 1, "state \(s)") }
                if z[s] > margin { XCTAssertEqual(shares[s], 0, "state \(s)") }
            }
            var below = 0.0
            for s in 0..<income.count where z[s] < margin { below += pi[s] }
            XCTAssertLessThan(below, 0.2)
        }
        // Equal incomes are one group: both states of the tie get the same share.
        let tied = RebateScheme.bottomShares(z: [1, 2, 1], stationary: [0.1, 0.75, 0.15])
        XCTAssertEqual(tied[0], 0.8, accuracy: 1e-15)
        XCTAssertEqual(tied[2], 0.8, accuracy: 1e-15)
        XCTAssertEqual(tied[1], 0)
        XCTAssertEqual(RebateScheme.bottomShares(z: [3, 1, 2], stationary: [0.5, 0.1, 0.4]), [0, 1, 0.25])
    }

    // MARK: - Households

    func household(transfer: Double = 0, byShock: [Double]? = nil, wage: Double = 1.1,
                   income: IncomeProcess = IncomeProcess(.baseline)) -> HouseholdProblem {
        HouseholdProblem(assets: assetGrid(points: 80, borrowingLimit: 0.5, top: 8, tfp: 1), income: income,
                         gamma: 1.45, beta: 0.92, sigma: 0.3, home: 0,
                         homeQuality: income.logPersistent.map { 0.3 * $0 }, prices: [1, 1.6, 1.9],
                         wage: wage, rate: 1.01, transfer: transfer, transferByShock: byShock)
    }

    /// The per-capita profile given as per-state transfers (all equal to τ, scalar part zero) is the
    /// scalar transfer to the bit, and a profile that is not flat does change the household.
    func testExplicitPerCapitaProfileIsTheScalarTransfer() throws {
        let tau = 0.05, income = IncomeProcess(.baseline)
        let scalar = HouseholdSolver(assets: 80, shocks: income.count, varieties: 3)
        try scalar.solve(household(transfer: tau), tolerance: 1e-12)
        let profile = try XCTUnwrap(RebateScheme.perCapita.profile(for: income))
        let explicit = HouseholdSolver(assets: 80, shocks: income.count, varieties: 3)
        try explicit.solve(household(byShock: profile.map { tau * $0 }), tolerance: 1e-12)
        XCTAssertEqual(explicit.consumption, scalar.consumption)
        XCTAssertEqual(explicit.values, scalar.values)
        XCTAssertEqual(explicit.assetPolicy, scalar.assetPolicy)
        XCTAssertEqual(explicit.choiceProbabilities, scalar.choiceProbabilities)

        let labour = try XCTUnwrap(RebateScheme.labourIncome.profile(for: income))
        let reshaped = HouseholdSolver(assets: 80, shocks: income.count, varieties: 3)
        try reshaped.solve(household(byShock: labour.map { tau * $0 }), tolerance: 1e-12)
        let gap = zip(reshaped.consumption, scalar.consumption).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(gap, 1e-3)
    }

    /// Labour-income rebates are a higher wage: τ z_s / E[z] on top of w z_s is (w + τ/E[z]) z_s, so with
    /// λτ = 1 the two households have the same policies (to the solver's tolerance: the rounding of the
    /// resources differs, and the cold guesses differ).
    func testLabourIncomeRebateIsAHigherWage() throws {
        let tau = 0.07, wage = 1.1
        for income in [IncomeProcess(.baseline),
                       IncomeProcess(.init(persistentStates: 3, transitoryStates: 2, rho: 0.8, sigmaPersistent: 0.3, sigmaTransitory: 0.2))] {
            let phi = try XCTUnwrap(RebateScheme.labourIncome.profile(for: income))
            let rebated = household(byShock: phi.map { tau * $0 }, wage: wage, income: income)
            XCTAssertEqual(rebated.resourceScale, 1)
            let raised = household(wage: wage + tau / income.meanZ, income: income)
            let a = HouseholdSolver(assets: 80, shocks: income.count, varieties: 3)
            let b = HouseholdSolver(assets: 80, shocks: income.count, varieties: 3)
            XCTAssertTrue(try a.solve(rebated, tolerance: 1e-12, maxIterations: 5000).converged)
            XCTAssertTrue(try b.solve(raised, tolerance: 1e-12, maxIterations: 5000).converged)
            for (x, y) in zip(a.consumption, b.consumption) { XCTAssertEqual(x, y, accuracy: 1e-9) }
            for (x, y) in zip(a.assetPolicy, b.assetPolicy) { XCTAssertEqual(x, y, accuracy: 1e-9) }
            // The resources identity itself, state by state: p_j c + a′ = R a + w z_s + τ_s under the
            // rebate, = R a + (w + τ/E[z]) z_s with the raised wage.
            let na = 80, grid = rebated.assets
            for j in 0..<3 {
                for s in 0..<income.count {
                    for k in stride(from: 0, to: na, by: 7) {
                        let idx = a.index(variety: j, shock: s, asset: k)
                        let spent = rebated.prices[j] * a.consumption[idx] + a.assetPolicy[idx]
                        XCTAssertEqual(spent, rebated.rate * grid[k] + wage * income.z[s] + tau * phi[s], accuracy: 1e-12)
                        let spentRaised = raised.prices[j] * b.consumption[idx] + b.assetPolicy[idx]
                        XCTAssertEqual(spentRaised, raised.rate * grid[k] + raised.wage * income.z[s], accuracy: 1e-12)
                    }
                }
            }
        }
    }

    /// The household problem of a country reads the scheme from the prices: per capita the scalar τ_i
    /// (no per-state transfers), a reshaping scheme τ_i φ_s with a zero scalar part, discard nothing.
    func testHouseholdProblemFollowsThePricesScheme() throws {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"), overrides: ["grid.assets=30"])
        let income = IncomeProcess(config.model.income)
        for scheme in RebateScheme.allCases {
            let prices = Prices(wages: [1, 1, 1], rates: [1.01, 1.01, 1.01], beta: 0.93, transfers: [0, 0, 0.04], rebate: scheme)
            let pr = config.world.householdProblem(country: 2, model: config.model, income: income, prices: prices)
            let other = config.world.householdProblem(country: 0, model: config.model, income: income, prices: prices)
            XCTAssertEqual(other.transfer, 0); XCTAssertNil(other.transferByShock)
            let resources = (0..<income.count).map { pr.transfer(shock: $0) }
            switch scheme {
            case .perCapita:
                XCTAssertEqual(pr.transfer, 0.04); XCTAssertNil(pr.transferByShock)
            case .labourIncome, .bottomQuintile:
                XCTAssertEqual(pr.transfer, 0)
                let phi = try XCTUnwrap(scheme.profile(for: income))
                XCTAssertEqual(try XCTUnwrap(pr.transferByShock), phi.map { 0.04 * $0 })
            case .discard:
                XCTAssertEqual(pr.transfer, 0); XCTAssertNil(pr.transferByShock)
            }
            let mean = zip(income.stationary, resources).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(mean, scheme.pays ? 0.04 : 0, accuracy: 1e-15, "\(scheme)")
        }
    }

    // MARK: - Equilibria

    /// The three-country world with a 10 % tariff on EAST's imports.
    func tariffWorld() throws -> (RunConfiguration, World) {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"), overrides: ["grid.assets=30"])
        var world = config.world
        for j in 0..<2 { world.tariffs[2 * world.count + j] = 0.1 }
        return (config, world)
    }

    func solve(_ config: RunConfiguration, world: World, closure: MarketClosure) throws -> (EquilibriumResult, WorldEvaluator) {
        var options = config.equilibrium
        options.closure = closure
        let evaluator = try WorldEvaluator(world: world, model: config.model, communicator: MPIEnvironment.world())
        return (try solveEquilibrium(evaluator: evaluator, options: options), evaluator)
    }

    /// The default (per-capita) rebate equilibrium is the one of the two-argument closure, and its reporting
    /// evaluation is bitwise the household problems built field by field with the scalar transfer, as
    /// before the schemes existed.
    func testPerCapitaEquilibriumIsTheScalarTransferBitwise() throws {
        let (config, world) = try tariffWorld()
        let beta = config.equilibrium.closure.parameter.value
        let old = MarketClosure.worldRateRebate(beta: beta, rebating: world.rebatingCountries)
        XCTAssertEqual(old, .worldRateRebate(beta: beta, rebating: [2], scheme: .perCapita))
        XCTAssertEqual(old, MarketClosure(.worldRateRebate, rate: 1.02, beta: beta, world: world))
        XCTAssertEqual(old.rebateScheme, .perCapita)
        let (r, evaluator) = try solve(config, world: world, closure: old)
        XCTAssertTrue(r.converged, "\(r.reason)")
        XCTAssertEqual(r.prices.rebate, .perCapita)
        let income = evaluator.income
        for i in 0..<world.count {
            let scaling = CountryScaling(tfp: world.tfp[i], model: config.model)
            let pr = HouseholdProblem(assets: scaling.assetGrid, income: income, gamma: config.model.gamma,
                                      beta: r.prices.beta, sigma: scaling.sigma, home: i,
                                      homeQuality: scaling.homeQuality(income),
                                      prices: world.buyerPrices(importer: i, wages: r.prices.wages),
                                      wage: r.prices.wages[i], rate: r.prices.rates[i], transfer: r.prices.transfers[i])
            let hh = HouseholdSolver(assets: pr.assets.count, shocks: income.count, varieties: world.count)
            try hh.solve(pr, tolerance: config.equilibrium.reportingHouseholdTolerance,
                         maxIterations: config.equilibrium.evaluation.householdMaxIterations)
            let dist = StationaryDistribution(assets: pr.assets.count, shocks: income.count)
            try dist.solve(household: hh, transition: income.transition, tolerance: config.equilibrium.evaluation.distributionTolerance,
                           maxIterations: config.equilibrium.evaluation.distributionMaxIterations)
            let agg = CountryAggregates(problem: pr, household: hh, distribution: dist, labor: world.labor[i])
            XCTAssertEqual(agg, r.report.countries[i].aggregates, "country \(i)")
        }
    }

    /// Under every scheme the tariff equilibrium converges. Paying schemes: the budget holds (revenue =
    /// L_i τ_i), the households' resources include the transfers (expenditure + saving = R B + Y + L τ_i,
    /// the transfers weighted by the distribution averaging τ_i), so Walras' law clears the dropped goods
    /// market; the scheme changes the equilibrium. Discard: no transfer unknown, no transfer, the revenue
    /// left as excess supply in the dropped market, the tariff still moving prices, and the equilibrium the
    /// world-rate closure's with the same tariffs.
    func testTariffEquilibriumUnderEachScheme() throws {
        let (config, world) = try tariffWorld()
        let beta = config.equilibrium.closure.parameter.value, m = world.count
        var results: [RebateScheme: EquilibriumResult] = [:]
        for scheme in RebateScheme.allCases {
            let closure = MarketClosure(.worldRateRebate, rate: 1.02, beta: beta, world: world, scheme: scheme)
            XCTAssertEqual(closure.rebateScheme, scheme)
            let (r, evaluator) = try solve(config, world: world, closure: closure)
            XCTAssertTrue(r.converged, "\(scheme): \(r.reason) \(r.reasonDetail)")
            XCTAssertLessThanOrEqual(r.residualMax, config.equilibrium.tolerance)
            XCTAssertEqual(r.prices.rebate, scheme)
            results[scheme] = r
            let flows = r.report.tradeFlows
            let revenue = 0.1 / 1.1 * (flows[2][0] + flows[2][1])
            XCTAssertGreaterThan(revenue, 1e-3)
            if scheme.pays {
                XCTAssertEqual(closure.unknownCount(countries: m), m + 1)
                XCTAssertEqual(r.unknownNames.last, "transfer_EAST")
                XCTAssertEqual(r.residualNames.last, "budget_EAST")
                XCTAssertGreaterThan(r.prices.transfers[2], 0)
                XCTAssertEqual(world.labor[2] * r.prices.transfers[2], revenue, accuracy: 1e-9)
                XCTAssertEqual(r.report.goodsMarketResiduals(world: world)[0], 0, accuracy: 1e-7)
            } else {
                XCTAssertEqual(closure.unknownCount(countries: m), m)
                XCTAssertFalse(r.unknownNames.contains { $0.hasPrefix("transfer_") })
                XCTAssertFalse(r.residualNames.contains { $0.hasPrefix("budget_") })
                XCTAssertEqual(r.report.goodsMarketResiduals(world: world)[0], revenue, accuracy: 1e-7)
            }
            XCTAssertEqual(r.prices.transfers[0], 0); XCTAssertEqual(r.prices.transfers[1], 0)
            if !scheme.pays { XCTAssertEqual(r.prices.transfers, [0, 0, 0]) }

            // The households' budgets, aggregated with the reporting evaluation's distribution.
            for i in 0..<m {
                let pr = world.householdProblem(country: i, model: config.model, income: evaluator.income, prices: r.prices)
                let masses = evaluator.distributions[i]!.masses, na = pr.assets.count
                var paid = 0.0
                for s in 0..<evaluator.income.count {
                    var mass = 0.0
                    for a in 0..<na { mass += masses[s * na + a] }
                    paid += mass * pr.transfer(shock: s)
                }
                paid *= world.labor[i]
                let expected = scheme.pays ? world.labor[i] * r.prices.transfers[i] : 0
                XCTAssertEqual(paid, expected, accuracy: 1e-8, "\(scheme) country \(i)")
                let agg = r.report.countries[i].aggregates
                XCTAssertEqual(agg.expenditure + agg.bondDemand, r.prices.rates[i] * agg.assets + agg.output + paid,
                               accuracy: 1e-11, "\(scheme) country \(i)")
            }
        }
        let perCapita = results[.perCapita]!
        for scheme in [RebateScheme.labourIncome, .bottomQuintile] {
            let gap = zip(results[scheme]!.unknowns, perCapita.unknowns).map { abs($0 - $1) }.max()!
            XCTAssertGreaterThan(gap, 1e-7, "\(scheme) equilibrium differs from per-capita")
        }
        // Discard is the tariff without any rebate: world-rate with the same tariffs, to the bit; and the
        // tariff moves prices away from the free-trade equilibrium.
        let discard = results[.discard]!
        let (plain, _) = try solve(config, world: world, closure: .worldRate(beta: beta))
        XCTAssertEqual(discard.unknowns, plain.unknowns)
        XCTAssertEqual(discard.report.tradeFlows, plain.report.tradeFlows)
        let (free, _) = try solve(config, world: config.world, closure: .worldRate(beta: beta))
        XCTAssertTrue(free.converged)
        XCTAssertGreaterThan(zip(discard.prices.wages, free.prices.wages).map { abs($0 - $1) }.max()!, 1e-4)
    }
}
