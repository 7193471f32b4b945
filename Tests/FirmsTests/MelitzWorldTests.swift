import Firms
import Foundation
import XCTest

/// The Melitz–Chaney world against FIRMS-SPEC: the Appendix's reference world and counterfactual, and the
/// analytic identities of §3, each on an asymmetric world unless the identity is about symmetry.
final class MelitzWorldTests: XCTestCase {
    /// The Appendix world: σ 4, k 5, three countries, importer-row τ and f.
    static func appendix(tau: [[Double]]? = nil, entry: FirmEntry = .free) -> MelitzWorld {
        MelitzWorld(names: ["A", "B", "C"], labour: [1, 2, 3], sigma: 4,
                    distributions: [0.25, 0.30, 0.35].map { .pareto(shape: 5, lowerBound: $0) },
                    entryCosts: [1, 1.2, 0.8],
                    fixedCosts: [[1, 1.8, 2.0], [1.6, 1, 1.7], [2.2, 1.9, 1]],
                    tradeCosts: tau ?? [[1, 1.6, 1.9], [1.5, 1, 1.7], [1.8, 1.6, 1]], entry: entry)
    }

    func assertClose(_ a: [Double], _ b: [Double], _ tol: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tol * max(1, abs(y)), what, file: file, line: line) }
    }

    /// The Appendix's numbers (w with w_3 = 1, domestic shares, w/P, gains, M_E) and its counterfactual
    /// (τ_12 and τ_21 divided by 1.1), by a full re-solve and by exact hat algebra.
    func testAppendixWorldAndCounterfactual() throws {
        let s = try MelitzEquilibrium(world: Self.appendix()).solve()
        XCTAssertTrue(s.report.converged, "\(s.report)")
        assertClose(s.wages.map { $0 / s.wages[2] }, [0.702636382106, 0.814229716519, 1], 1e-11, "wages")
        assertClose((0..<3).map { s.tradeShares[$0][$0] }, [0.843605765794, 0.886092422157, 0.950185664894], 1e-11, "domestic shares")
        assertClose(s.realWages, [0.132527178585, 0.191304587392, 0.273225746876], 1e-11, "w/P")
        assertClose(try s.gainsFromTrade(), [1.034599090114, 1.024481677265, 1.010271973554], 1e-11, "gains")
        assertClose(s.entryMass, [0.15, 0.25, 0.5625], 1e-13, "entry masses")
        try s.checkConditions(requireInterior: true)
        XCTAssertEqual(s.wages.reduce(0, +) / 3, 1, accuracy: 1e-14)

        var tau = Self.appendix().tradeCosts
        tau[0][1] /= 1.1; tau[1][0] /= 1.1
        let after = try MelitzEquilibrium(world: Self.appendix(tau: tau)).solve()
        assertClose(after.wages.map { $0 / after.wages[2] }, [0.707976875223, 0.815548968555, 1], 1e-11, "new wages")
        let change = (0..<3).map { after.welfare[$0] / s.welfare[$0] }
        assertClose(change, [1.013184286166, 1.005348283539, 0.999837381106], 1e-11, "welfare change")
        // ACR: Ŵ = λ̂_nn^(−1/k).
        assertClose(change, (0..<3).map { pow(after.tradeShares[$0][$0] / s.tradeShares[$0][$0], -1 / 5) }, 1e-12, "ACR")
        let hat = try MelitzHatAlgebra(base: s).counterfactual(tradeCosts: tau, fixedCosts: s.world.fixedCosts, tariffs: s.world.tariffs)
        assertClose(hat.welfareChange, change, 1e-12, "hat algebra welfare")
        assertClose(hat.wages, after.wages, 1e-12, "hat algebra wages")
    }

    /// Productivity spread over orders of magnitude (b from 0.002 to 1, k 5: ten orders in b^k): the wages
    /// span a factor of about 25, and the equilibrium is still found; free entry and spending hold at it.
    func testWideProductivitySpreadSolves() throws {
        var fixed = [[Double]](repeating: [Double](repeating: 3, count: 4), count: 4)
        var tau = [[Double]](repeating: [Double](repeating: 1, count: 4), count: 4)
        for n in 0..<4 {
            fixed[n][n] = 1
            for i in 0..<4 where i != n { tau[n][i] = 1.4 + 0.1 * Double(n + i) }
        }
        let bounds: [Double] = [0.002, 0.05, 1, 0.3]
        let world = MelitzWorld(names: ["A", "B", "C", "D"], labour: [1, 2, 3, 0.5], sigma: 4,
                                distributions: bounds.map { ProductivityDistribution.pareto(shape: 5, lowerBound: $0) },
                                entryCosts: [1, 1, 1, 1], fixedCosts: fixed, tradeCosts: tau)
        let s = try MelitzEquilibrium(world: world).solve()
        XCTAssertTrue(s.report.converged, "\(s.report)")
        XCTAssertGreaterThan(s.wages[2] / s.wages[0], 10)
        try s.checkConditions(requireInterior: true)
        // Spending equals income: every country's sales, over all markets, pay its wage bill.
        for i in 0..<4 {
            var sold = 0.0
            for n in 0..<4 { sold += s.sales[n][i] }
            XCTAssertEqual(sold / (s.wages[i] * world.labour[i]), 1, accuracy: 1e-9)
        }
    }

    /// Tariffs with revenue rebated: hat algebra (with its tariff terms) equals a re-solve, for a tariff
    /// imposed, and the flows' elasticity to 1 + t is −kσ/(σ−1) at fixed wages (FIRMS-SPEC §4, verified here).
    func testTariffsByHatAlgebraAndResolveAgree() throws {
        let base = try MelitzEquilibrium(world: Self.appendix()).solve()
        var taxed = Self.appendix()
        taxed.tariffs = [[0, 0.2, 0.1], [0, 0, 0.05], [0.15, 0, 0]]
        let resolved = try MelitzEquilibrium(world: taxed).solve()
        XCTAssertTrue(resolved.report.converged)
        let hat = try MelitzHatAlgebra(base: base).counterfactual(tradeCosts: taxed.tradeCosts, fixedCosts: taxed.fixedCosts, tariffs: taxed.tariffs)
        assertClose(hat.welfareChange, (0..<3).map { resolved.welfare[$0] / base.welfare[$0] }, 1e-11, "welfare")
        assertClose(hat.wages, resolved.wages, 1e-11, "wages")
        for n in 0..<3 { assertClose(hat.tradeShares[n], resolved.tradeShares[n], 1e-11, "shares row \(n)") }
        // And back: from the taxed world to the untaxed one.
        let back = try MelitzHatAlgebra(base: resolved).counterfactual(tradeCosts: taxed.tradeCosts, fixedCosts: taxed.fixedCosts,
                                                                        tariffs: Self.appendix().tariffs)
        assertClose(back.welfareChange, (0..<3).map { base.welfare[$0] / resolved.welfare[$0] }, 1e-11, "welfare back")
        // Producer-price flows at fixed wages: elasticity −kσ/(σ−1) to 1 + t_ni (relative to the domestic flow).
        let w = base.wages, h = 1e-5
        func ratio(_ t: Double) throws -> Double {
            var world = Self.appendix()
            world.tariffs[0][1] = t
            let s = try MelitzEquilibrium(world: world).solveAtFixedWages(w)
            return log(s.sales[0][1] / s.sales[0][0])
        }
        let t0 = 0.1
        let slope = (try ratio(exp(log(1 + t0) + h) - 1) - (try ratio(exp(log(1 + t0) - h) - 1))) / (2 * h)
        XCTAssertEqual(slope, -5 * 4 / 3, accuracy: 1e-7)
    }

    /// §3.1, 3.3, 3.4: at fixed wages, ∂ln(X_ni/X_nn)/∂ln τ_ni = −k whatever f and σ; the margins split it
    /// as −(σ−1) and −(k−σ+1); mean sales per seller are σκ w_i f_ni/(κ−1) and do not move with τ_ni.
    func testElasticityMarginsAndMeanSales() throws {
        for sigma in [3.0, 4.0, 6.5] {
            var world = Self.appendix()
            world.sigma = sigma
            world.distributions = [0.25, 0.30, 0.35].map { .pareto(shape: 7, lowerBound: $0) }
            // Cheap entry keeps every cutoff interior (closed economy: φ* ≥ b iff f ≥ (κ−1) f_E).
            world.entryCosts = world.entryCosts.map { 0.1 * $0 }
            let eq = MelitzEquilibrium(world: world)
            let s = try eq.solve()
            try s.checkConditions(requireInterior: true)
            let k = 7.0, kappa = k / (sigma - 1), h = 1e-5
            func logRatio(_ factor: Double) throws -> (Double, Double) {
                var w2 = world
                w2.tradeCosts[2][0] *= factor
                let r = try MelitzEquilibrium(world: w2).solveAtFixedWages(s.wages)
                return (log(r.sales[2][0] / r.sales[2][2]), r.meanSales[2][0])
            }
            let (up, meanUp) = try logRatio(exp(h)), (down, meanDown) = try logRatio(exp(-h))
            XCTAssertEqual((up - down) / (2 * h), -k, accuracy: 1e-7, "σ \(sigma)")
            XCTAssertEqual(meanUp, meanDown, accuracy: 1e-12 * meanUp, "mean sales do not move with τ")
            let m = s.margins(importer: 2, exporter: 0)
            XCTAssertEqual(m.intensive, -(sigma - 1), accuracy: 1e-12)
            XCTAssertEqual(m.extensive, -(k - sigma + 1), accuracy: 1e-10)
            XCTAssertEqual(m.sellers, -k, accuracy: 1e-10)
            XCTAssertEqual(m.meanSales, 0, accuracy: 1e-10)
            for n in 0..<3 { for i in 0..<3 {
                let expected = sigma * kappa * s.wages[i] * world.fixedCosts[n][i] / (kappa - 1)
                XCTAssertEqual(s.meanSales[n][i], expected, accuracy: 1e-12 * expected)
            } }
        }
    }

    /// §3.5: M_E = L/(σκ f_E), unchanged by τ and f; labour shares 1/(σκ), (κ−1)/(σκ), (σ−1)/σ.
    func testEntryMassAndLabourShares() throws {
        var world = Self.appendix()
        for round in 0..<2 {
            let s = try MelitzEquilibrium(world: world).solve()
            let sigma = 4.0, kappa = 5.0 / 3
            for i in 0..<3 {
                XCTAssertEqual(s.entryMass[i], world.labour[i] / (sigma * kappa * world.entryCosts[i]), accuracy: 1e-14)
                let l = s.labourSplit[i]
                XCTAssertEqual(l.entry, 1 / (sigma * kappa), accuracy: 1e-13)
                XCTAssertEqual(l.fixedCosts, (kappa - 1) / (sigma * kappa), accuracy: 1e-13)
                XCTAssertEqual(l.production, (sigma - 1) / sigma, accuracy: 1e-13)
            }
            _ = round
            world.tradeCosts[1][2] *= 1.3
            world.fixedCosts[0][2] *= 0.7
        }
    }

    /// §3.7: welfare three ways: w/P, from the domestic cutoff, and from λ_nn.
    func testWelfareThreeWays() throws {
        let s = try MelitzEquilibrium(world: Self.appendix()).solve()
        let world = s.world, sigma = 4.0, k = 5.0, kappa = k / 3, m = sigma / (sigma - 1)
        assertClose(s.welfareFromDomesticCutoff, s.realWages, 1e-12, "domestic cutoff")
        let fromShare = (0..<3).map { n -> Double in
            guard case let .pareto(_, b) = world.distributions[n] else { return .nan }
            let f = world.fixedCosts[n][n]
            return pow(world.labour[n] / (sigma * f), 1 / (sigma - 1)) / m * b * pow(f / ((kappa - 1) * world.entryCosts[n]), 1 / k)
                * pow(s.tradeShares[n][n], -1 / k)
        }
        assertClose(fromShare, s.realWages, 1e-12, "from λ_nn")
        assertClose(s.welfare, s.realWages, 1e-14, "no tariffs: income per worker is the wage")
    }

    /// §3.6 and §1.4: the symmetric world's cutoff ratio τ(f_X/f)^(1/(σ−1)), exporter share τ^(−k)(f/f_X)^κ,
    /// domestic share 1/(1 + (N−1) τ^(−k)(f_X/f)^(1−κ)) and φ*^k = φ*_A^k/λ; lower τ raises φ*, lowers φ*_X.
    func testSymmetricWorld() throws {
        func world(_ tau: Double) -> MelitzWorld {
            let n = 4, f = 1.0, fx = 1.7
            return MelitzWorld(names: (0..<n).map { "C\($0)" }, labour: Array(repeating: 1.5, count: n), sigma: 3.5,
                               distributions: Array(repeating: .pareto(shape: 4.2, lowerBound: 0.4), count: n),
                               entryCosts: Array(repeating: 0.9, count: n),
                               fixedCosts: (0..<n).map { r in (0..<n).map { $0 == r ? f : fx } },
                               tradeCosts: (0..<n).map { r in (0..<n).map { $0 == r ? 1 : tau } })
        }
        let sigma = 3.5, k = 4.2, kappa = k / (sigma - 1), tau = 1.4, f = 1.0, fx = 1.7
        let s = try MelitzEquilibrium(world: world(tau)).solve()
        XCTAssertEqual(s.cutoffs[1][0] / s.cutoffs[0][0], tau * pow(fx / f, 1 / (sigma - 1)), accuracy: 1e-12)
        XCTAssertEqual(s.exporterShares[0], pow(tau, -k) * pow(f / fx, kappa), accuracy: 1e-12)
        let lambda = 1 / (1 + 3 * pow(tau, -k) * pow(fx / f, 1 - kappa))
        XCTAssertEqual(s.tradeShares[2][2], lambda, accuracy: 1e-13)
        for w in s.wages { XCTAssertEqual(w, 1, accuracy: 1e-13) }
        let autarkyCut = pow(pow(0.4, k) * f / ((kappa - 1) * 0.9), 1 / k)
        XCTAssertEqual(pow(s.cutoffs[0][0], k), pow(autarkyCut, k) / lambda, accuracy: 1e-12 * pow(autarkyCut, k) / lambda)
        let freer = try MelitzEquilibrium(world: world(1.2)).solve()
        XCTAssertGreaterThan(freer.cutoffs[0][0], s.cutoffs[0][0])
        XCTAssertLessThan(freer.cutoffs[1][0], s.cutoffs[1][0])
        XCTAssertGreaterThan(s.cutoffs[0][0], autarkyCut, "open-economy φ* exceeds autarky's")
    }

    /// §3.9–3.11 and 3.14 on general G: open welfare beats autarky; λ(cw) = λ(w); a truncated Pareto with a
    /// remote upper bound is the Pareto world; the closed economy's φ* does not depend on L, M_E ∝ L and
    /// W ∝ L^(1/(σ−1)).
    func testGeneralDistributionsHomogeneityAndClosedEconomy() throws {
        for g in [ProductivityDistribution.lognormal(median: 0.5, sigma: 0.6), .truncatedPareto(shape: 3.5, lowerBound: 0.3, upperBound: 4)] {
            var world = Self.appendix()
            world.distributions = Array(repeating: g, count: 3)
            let s = try MelitzEquilibrium(world: world).solve()
            XCTAssertTrue(s.report.converged, "\(g): \(s.report)")
            // Markets clear: every country's spending at producer prices is its labour income, and its sales too.
            for n in 0..<3 {
                XCTAssertEqual(s.sales[n].reduce(0, +), s.wages[n] * world.labour[n], accuracy: 1e-12)
                XCTAssertEqual((0..<3).reduce(0) { $0 + s.sales[$1][n] }, s.wages[n] * world.labour[n], accuracy: 1e-12)
            }
            for (x, a) in zip(s.welfare, try s.autarkyWelfare()) { XCTAssertGreaterThan(x, a, "\(g)") }
            let eq = MelitzEquilibrium(world: world)
            let w = s.wages.enumerated().map { $1 * (1 + 0.05 * Double($0)) }
            let one = try eq.solveAtFixedWages(w), scaled = try eq.solveAtFixedWages(w.map { 2.5 * $0 })
            for n in 0..<3 { assertClose(scaled.tradeShares[n], one.tradeShares[n], 1e-12, "λ(cw) = λ(w)") }
        }
        let pareto = try MelitzEquilibrium(world: Self.appendix()).solve()
        var remote = Self.appendix()
        remote.distributions = [0.25, 0.30, 0.35].map { .truncatedPareto(shape: 5, lowerBound: $0, upperBound: 1e9) }
        let truncated = try MelitzEquilibrium(world: remote).solve()
        assertClose(truncated.wages, pareto.wages, 1e-10, "remote truncation")
        assertClose(truncated.realWages, pareto.realWages, 1e-10, "remote truncation")
        for g in [ProductivityDistribution.pareto(shape: 5, lowerBound: 0.3), .lognormal(median: 0.5, sigma: 0.6)] {
            var cuts: [Double] = [], welfare: [Double] = [], mass: [Double] = []
            for l in [1.0, 4.0] {
                let alone = MelitzWorld(names: ["X"], labour: [l], sigma: 4, distributions: [g], entryCosts: [1.1],
                                        fixedCosts: [[0.8]], tradeCosts: [[1]])
                let s = try MelitzEquilibrium(world: alone).solve()
                cuts.append(s.cutoffs[0][0]); welfare.append(s.welfare[0]); mass.append(s.entryMass[0])
            }
            XCTAssertEqual(cuts[1], cuts[0], accuracy: 1e-13 * cuts[0])
            XCTAssertEqual(mass[1] / mass[0], 4, accuracy: 1e-12)
            XCTAssertEqual(welfare[1] / welfare[0], pow(4, 1 / 3.0), accuracy: 1e-12)
        }
    }

    /// §3.10: with export fixed costs tending to zero the export cutoffs fall below the Pareto bound (all
    /// entrants export), which the interior check names, and the extensive margin vanishes (elasticity σ−1).
    func testCornerWhenExportFixedCostsVanish() throws {
        var world = Self.appendix()
        for n in 0..<3 { for i in 0..<3 where n != i { world.fixedCosts[n][i] = 1e-4 } }
        let s = try MelitzEquilibrium(world: world).solve()
        XCTAssertTrue(s.report.converged)
        XCTAssertLessThan(s.cutoffs[0][1], 0.30)
        XCTAssertThrowsError(try s.checkConditions(requireInterior: true)) { error in
            XCTAssertTrue("\(error)".contains("firms.lower_bound"), "\(error)")
        }
        XCTAssertThrowsError(try s.checkConditions(requireInterior: false)) { error in
            XCTAssertTrue("\(error)".contains("selection into exporting"), "\(error)")
        }
        let m = s.margins(importer: 0, exporter: 1)
        XCTAssertEqual(m.total, -3, accuracy: 1e-12)
    }

    /// Chaney (fixed masses, profits paid to the home country): ACR still holds after a shock.
    func testChaneyFixedEntryKeepsACR() throws {
        let world = Self.appendix(entry: .fixed(mass: [0.3, 0.5, 0.9]))
        let s = try MelitzEquilibrium(world: world).solve()
        XCTAssertTrue(s.report.converged, "\(s.report)")
        for i in 0..<3 {
            let revenue = (0..<3).reduce(0) { $0 + s.sales[$1][i] }
            XCTAssertEqual(s.profits[i], revenue / (4 * 5.0 / 3), accuracy: 1e-12 * revenue, "profits are 1/(σκ) of revenue")
        }
        var tau = world.tradeCosts
        tau[0][1] /= 1.1; tau[2][0] /= 1.2
        var shocked = world
        shocked.tradeCosts = tau
        let after = try MelitzEquilibrium(world: shocked).solve()
        for n in 0..<3 {
            XCTAssertEqual(after.welfare[n] / s.welfare[n], pow(after.tradeShares[n][n] / s.tradeShares[n][n], -1 / 5.0), accuracy: 1e-11)
        }
    }

    /// §3.12: with an outside good (w ≡ 1) the larger country has more than proportionally more entrants,
    /// and a unilateral import liberalisation lowers its domestic cutoff.
    func testOutsideGoodHomeMarketEffect() throws {
        func world(_ tauInto0: Double) -> MelitzWorld {
            MelitzWorld(names: ["big", "small"], labour: [3, 1], sigma: 4, distributions: Array(repeating: .pareto(shape: 5, lowerBound: 0.3), count: 2),
                        entryCosts: [1, 1], fixedCosts: [[1, 1.5], [1.5, 1]], tradeCosts: [[1, tauInto0], [1.5, 1]], differentiatedShare: 0.4)
        }
        let s = try MelitzEquilibrium(world: world(1.5)).solve()
        XCTAssertGreaterThan(s.entryMass[0] / s.entryMass[1], 3)
        let liberal = try MelitzEquilibrium(world: world(1.3)).solve()
        XCTAssertLessThan(liberal.cutoffs[0][0], s.cutoffs[0][0])
        XCTAssertEqual(s.wages, [1, 1])
    }

    /// §3.13 (Demidova–Rodríguez-Clare signs), two countries, L_2 ≫ L_1: lowering τ_12 lowers w_1 and φ*_21,
    /// raises φ*_11 and W_1; lowering τ_21 raises w_1, lowers φ*_21, raises φ*_11 and W_1.
    func testDemidovaRodriguezClareSigns() throws {
        func world(_ t12: Double, _ t21: Double) -> MelitzWorld {
            MelitzWorld(names: ["1", "2"], labour: [1, 20], sigma: 4, distributions: Array(repeating: .pareto(shape: 5, lowerBound: 0.3), count: 2),
                        entryCosts: [1, 1], fixedCosts: [[1, 2.5], [2.5, 1]], tradeCosts: [[1, t12], [t21, 1]])
        }
        let base = try MelitzEquilibrium(world: world(1.6, 1.6)).solve()
        let rel = { (s: MelitzSolution) in s.wages[0] / s.wages[1] }
        let a = try MelitzEquilibrium(world: world(1.5, 1.6)).solve()
        XCTAssertLessThan(rel(a), rel(base)); XCTAssertLessThan(a.cutoffs[1][0], base.cutoffs[1][0])
        XCTAssertGreaterThan(a.cutoffs[0][0], base.cutoffs[0][0])
        let b = try MelitzEquilibrium(world: world(1.6, 1.5)).solve()
        XCTAssertGreaterThan(rel(b), rel(base)); XCTAssertLessThan(b.cutoffs[1][0], base.cutoffs[1][0])
        XCTAssertGreaterThan(b.cutoffs[0][0], base.cutoffs[0][0])
        XCTAssertGreaterThan(b.realWages[0], base.realWages[0])
        XCTAssertGreaterThan(a.realWages[0], base.realWages[0])
    }

    /// Bad parameters: each a FirmsError naming the key.
    func testInvalidParametersNameTheirKey() {
        var cases: [(MelitzWorld, String)] = []
        var w = Self.appendix(); w.sigma = 1; cases.append((w, "firms.sigma"))
        w = Self.appendix(); w.distributions[1] = .pareto(shape: 2.5, lowerBound: 0.3); cases.append((w, "firms.shape"))
        w = Self.appendix(); w.distributions[0] = .truncatedPareto(shape: 3, lowerBound: 0.3, upperBound: 0.2); cases.append((w, "firms.upper_bound"))
        w = Self.appendix(); w.distributions[2] = .lognormal(median: 0.4, sigma: 0); cases.append((w, "firms.lognormal_sigma"))
        w = Self.appendix(); w.entryCosts = [1, 0, 1]; cases.append((w, "firms.entry_cost"))
        w = Self.appendix(); w.fixedCosts[1][1] = 0; cases.append((w, "firms.domestic_fixed_cost"))
        w = Self.appendix(); w.fixedCosts[1][0] = -1; cases.append((w, "firms.fixed_cost"))
        w = Self.appendix(); w.tradeCosts[1][0] = 0.9; cases.append((w, "world.trade_costs"))
        w = Self.appendix(); w.tariffs[1][1] = 0.1; cases.append((w, "world.tariffs"))
        w = Self.appendix(entry: .fixed(mass: [1, 1])); cases.append((w, "firms.entry_mass"))
        w = Self.appendix(); w.differentiatedShare = 1.2; cases.append((w, "firms.differentiated_share"))
        for (world, key) in cases {
            XCTAssertThrowsError(try MelitzEquilibrium(world: world).solve(), key) { error in
                XCTAssertTrue("\(error)".hasPrefix(key), "\(key): \(error)")
            }
        }
    }
}
