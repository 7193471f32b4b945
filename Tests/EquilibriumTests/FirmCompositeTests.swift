import Equilibrium
import Firms
import Foundation
import HATConfig
import HATModel
import Parallel
import TestSupport
import XCTest

/// HAT's households over national composites with Melitz firms inside (FIRMS-SPEC §2.6): the composite price
/// against the firms' primitives, the nesting identity, the log-utility identity, and the labour market at a
/// solved equilibrium.
final class FirmCompositeTests: XCTestCase {
    func supply(_ m: Int, fixed: Double, domestic: Double, entry: FirmEntry = .free) -> MelitzCompositeSupply {
        var costs = [Double](repeating: 0, count: m * m)
        for n in 0..<m {
            for i in 0..<m {
                let step = Double(n == i ? n : i)
                costs[n * m + i] = n == i ? domestic * (1 + 0.1 * step) : fixed * (1 + 0.05 * step)
            }
        }
        let entryCosts = (0..<m).map { 1 + 0.2 * Double($0) }
        return MelitzCompositeSupply(sigma: 4, shape: 5, fixedCosts: costs, entry: entry, entryCosts: entryCosts)
    }

    /// The closed-form composite price and the cutoffs it implies satisfy the firms' own conditions, computed
    /// here from the Pareto distribution directly: the price index P_ni^(1−σ) = M_Ei ∫_{φ*} (c_ni/φ)^(1−σ) dG_i
    /// and the zero-profit cutoff r(φ*)/σ = w_i f_ni, with tariffs; and without fixed costs P_ni = d_ni (1+t) ω_i / A_i.
    func testCompositePriceMatchesTheFirmsConditions() throws {
        var world = World(names: ["A", "B", "C"], tfp: [0.8, 1.0, 1.3], labor: [1, 2, 3],
                          tradeCosts: [1, 1.6, 1.9, 1.5, 1, 1.7, 1.8, 1.6, 1], tariffs: [0, 0.1, 0, 0, 0, 0.2, 0.05, 0, 0])
        let wages = [0.9, 1.05, 1.05], spending = [[0.6, 0.2, 0.1], [0.3, 1.4, 0.2], [0.15, 0.25, 2.5]]
        for entry in [FirmEntry.free, .fixed(mass: [0.2, 0.3, 0.4])] {
            let s = supply(3, fixed: 1.5, domestic: 1.0, entry: entry)
            world.supply = s
            let p = (0..<3).map { s.buyerPrices(world: world, importer: $0, wages: wages, spending: spending[$0]) }
            let g = s.margins(world: world, wages: wages, buyerPrices: p, spending: spending)
            let b = s.lowerBounds(world: world)
            for n in 0..<3 {
                for i in 0..<3 {
                    let t = world.tariff(importer: n, exporter: i), w = s.labourShare * wages[i]
                    let c = (1 + t) * 4.0 / 3 * world.tradeCost(importer: n, exporter: i) * w
                    let pareto = ProductivityDistribution.pareto(shape: 5, lowerBound: b[i])
                    let phi = g.cutoffs[n][i]
                    XCTAssertGreaterThan(phi, b[i])
                    let index = s.entryMass(world: world, i) * pow(c, -3) * pareto.partialMoment(phi, power: 3)
                    XCTAssertEqual(index, pow(p[n][i], -3), accuracy: 1e-12 * pow(p[n][i], -3))
                    // Producer revenue of the cutoff firm: ((1+t) p)^(1−σ) P^(σ−1) X / (1+t), p = m d w / φ.
                    let revenue = pow(c / phi, -3) * pow(p[n][i], 3) * spending[n][i] / (1 + t)
                    XCTAssertEqual(revenue / 4, w * s.fixedCosts[n * 3 + i], accuracy: 1e-12)
                }
            }
            // Without market fixed costs: every firm serves every market and the composite is HAT's price.
            let none = supply(3, fixed: 0, domestic: 0, entry: entry)
            world.supply = none
            XCTAssertEqual(none.spendingElasticity, 0)
            for n in 0..<3 {
                let got = none.buyerPrices(world: world, importer: n, wages: wages, spending: nil)
                let hat = ArmingtonSupply().buyerPrices(world: world, importer: n, wages: wages, spending: nil)
                for i in 0..<3 { XCTAssertEqual(got[i], hat[i], accuracy: 1e-14 * hat[i]) }
            }
        }
    }

    /// The lower bounds reproduce world.tfp as Ã_i/m (free entry, M_E = L/(σ f_E)) or Ã_i (a fixed mass with
    /// profits paid pro rata, so ω = w σ/(σ−1)), with Ã_i = (M_Ei E[φ^(σ−1)])^(1/(σ−1)) from the distribution.
    func testLowerBoundsGiveTheWorldsTFP() {
        let world = World(names: ["A", "B", "C"], tfp: [0.8, 1.0, 1.3], labor: [1, 2, 3], tradeCosts: [1, 2, 2, 2, 1, 2, 2, 2, 1])
        for (entry, factor) in [(FirmEntry.free, 4.0 / 3), (.fixed(mass: [0.2, 0.3, 0.4]), 1.0)] {
            let s = supply(3, fixed: 0, domestic: 0, entry: entry)
            let b = s.lowerBounds(world: world)
            for i in 0..<3 {
                let mass: Double
                if case let .fixed(given) = entry { mass = given[i] } else { mass = world.labor[i] / (4 * s.entryCosts[i]) }
                let tilde = pow(mass * ProductivityDistribution.pareto(shape: 5, lowerBound: b[i]).partialMoment(b[i], power: 3), 1.0 / 3)
                XCTAssertEqual(tilde / factor, world.tfp[i], accuracy: 1e-13)
            }
        }
    }

    /// Without market fixed costs the plain HAT equilibrium is reproduced: the same wages, R, trade shares
    /// and household policies, on a two- and a three-country world, under free entry (A_i = Ã_i/m) and with a
    /// fixed mass whose profits are paid in proportion to labour income (A_i = Ã_i).
    func testNestingIdentityReproducesPlainHAT() throws {
        for name in ["two-country.toml", "three-country.toml"] {
          for entry in [FirmEntry.free, .fixed(mass: [0.3, 0.2, 0.4])] {
            let (config, plain, plainEvaluator) = try solve(name)
            XCTAssertTrue(plain.converged)
            var world = config.world
            let fixedEntry: FirmEntry
            if case let .fixed(mass) = entry { fixedEntry = .fixed(mass: Array(mass.prefix(world.count))) } else { fixedEntry = .free }
            world.supply = supply(world.count, fixed: 0, domestic: 0, entry: fixedEntry)
            let evaluator = try WorldEvaluator(world: world, model: config.model, communicator: MPIEnvironment.world())
            let nested = try solveEquilibrium(evaluator: evaluator, options: config.equilibrium)
            XCTAssertTrue(nested.converged, name)
            for (x, y) in zip(nested.prices.wages, plain.prices.wages) { XCTAssertEqual(x, y, accuracy: 1e-10, name) }
            for (x, y) in zip(nested.prices.rates, plain.prices.rates) { XCTAssertEqual(x, y, accuracy: 1e-11, name) }
            for (a, b) in zip(nested.report.tradeShares, plain.report.tradeShares) {
                for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-10, name) }
            }
            for i in 0..<world.count {
                let c1 = evaluator.households[i]!.consumption, c0 = plainEvaluator.households[i]!.consumption
                XCTAssertEqual(c1.count, c0.count)
                var worst = 0.0
                for k in 0..<c1.count { worst = max(worst, abs(c1[k] - c0[k]) / c0[k]) }
                XCTAssertLessThan(worst, 1e-8, "\(name) country \(i + 1) consumption policy")
            }
          }
        }
    }

    /// With log utility and no home-quality spread the composites' shares obey exact gravity, so at fixed
    /// wages and R the partial elasticity of X_ni/X_nn to d_ni is −1/(σ_n − 1/(σ−1) + 1/k) (−8.57 here)
    /// instead of HAT's −1/σ_n (−4), measured through the households and the composite fixed point.
    func testLogUtilityPartialElasticity() throws {
        let config = try ConfigurationLoader.load(path: configPath("two-country-log.toml"))
        var options = config.equilibrium.evaluation
        options.householdTolerance = 1e-12
        options.distributionTolerance = 1e-13
        options.householdMaxIterations = 5000
        options.warmStart = false
        let prices = Prices(wages: [0.97, 1.03], rates: [1.03, 1.03], beta: 0.92)
        let h = 1e-3
        for (s, expected) in [(supply(2, fixed: 1.5, domestic: 1.0), -1 / (0.25 - (1.0 / 3 - 1.0 / 5))),
                              (supply(2, fixed: 0, domestic: 0), -1 / 0.25)] {
            func logRatio(_ step: Double) throws -> Double {
                var world = config.world
                world.supply = s
                world.tradeCosts[1] *= exp(step)
                let evaluator = try WorldEvaluator(world: world, model: config.model, communicator: MPIEnvironment.world())
                let out = evaluator.solveCountry(0, prices: prices, options: options)
                XCTAssertNil(out.failure)
                return log(out.aggregates.imports[1] / out.aggregates.imports[0])
            }
            let slope = (try logRatio(h) - logRatio(-h)) / (2 * h)
            XCTAssertEqual(slope, expected, accuracy: 1e-6 * abs(expected))
        }
    }

    /// At a solved HAT×Melitz equilibrium (three countries, CRRA, home-quality shifter) labour markets clear:
    /// entry, fixed-cost and production labour add up to L_i, with the Pareto shares 1/(σκ), (κ−1)/(σκ) and
    /// (σ−1)/σ, and mean sales per seller are σ w f κ/(κ−1).
    func testSolvedEquilibriumClearsLabourMarkets() throws {
        let config = try ConfigurationLoader.load(path: configPath("three-country.toml"))
        var world = config.world
        let s = supply(3, fixed: 2.0, domestic: 1.0)
        world.supply = s
        var options = config.equilibrium
        options.start.wages = world.tfp  // the default start of a configuration with households = "hat"
        let evaluator = try WorldEvaluator(world: world, model: config.model, communicator: MPIEnvironment.world())
        let result = try solveEquilibrium(evaluator: evaluator, options: options)
        XCTAssertTrue(result.converged)
        let spending = result.report.tradeFlows
        let report = try XCTUnwrap(s.report(world: world, prices: result.prices, spending: spending))
        XCTAssertTrue(report.failedConditions.isEmpty, "\(report.failedConditions)")
        let g = s.margins(world: world, wages: result.prices.wages, buyerPrices: try XCTUnwrap(result.prices.buyerPrices), spending: spending)
        let kappa = 5.0 / 3
        for i in 0..<3 {
            var fixedLabour = 0.0, revenue = 0.0
            for n in 0..<3 {
                fixedLabour += g.sellers[n][i] * s.fixedCosts[n * 3 + i]
                revenue += spending[n][i]
                XCTAssertEqual(g.meanSales[n][i], 4 * result.prices.wages[i] * s.fixedCosts[n * 3 + i] * kappa / (kappa - 1),
                               accuracy: 1e-7 * g.meanSales[n][i])
            }
            let entryLabour = g.entryMass[i] * s.entryCosts[i]
            let production = 0.75 * revenue / result.prices.wages[i]
            XCTAssertEqual((entryLabour + fixedLabour + production) / world.labor[i], 1, accuracy: 1e-8)
            XCTAssertEqual(entryLabour / world.labor[i], 1 / (4 * kappa), accuracy: 1e-13)
            XCTAssertEqual(fixedLabour / world.labor[i], (kappa - 1) / (4 * kappa), accuracy: 1e-8)
        }
    }
}
