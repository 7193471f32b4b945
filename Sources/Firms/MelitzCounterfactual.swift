import Foundation
import Solvers

extension MelitzSolution {
    /// Welfare per worker of each country alone (autarky: its own market only), for the gains from trade.
    public func autarkyWelfare() throws -> [Double] {
        try (0..<count).map { c in
            let entry: FirmEntry
            if case let .fixed(mass) = world.entry { entry = .fixed(mass: [mass[c]]) } else { entry = .free }
            let alone = MelitzWorld(names: [world.names[c]], labour: [world.labour[c]], sigma: world.sigma,
                                    distributions: [world.distributions[c]], entryCosts: [world.entryCosts[c]],
                                    fixedCosts: [[world.fixedCosts[c][c]]], tradeCosts: [[1]], tariffs: [[0]],
                                    entry: entry, differentiatedShare: world.differentiatedShare)
            return try MelitzEquilibrium(world: alone).solve().welfare[0]
        }
    }

    /// W_n / W_n(autarky).
    public func gainsFromTrade() throws -> [Double] {
        let autarky = try autarkyWelfare()
        return zip(welfare, autarky).map { $0 / $1 }
    }
}

/// Exact hat algebra for the Pareto Melitz world (FIRMS-SPEC §2.1.5), extended to tariffs whose revenue is
/// rebated to the importer: from the observed shares λ, incomes and k, σ alone,
/// λ′_ni ∝ λ_ni τ̂_ni^(−k) f̂_ni^(1−κ) (1+t)^∧(1−σκ) ŵ_i^(−θ_w), with θ_w = σκ − 1; income
/// Y′_n = ŵ_n w_n L_n / (1 − Σ_i t′_ni/(1+t′_ni) λ′_ni); wages from w_i L_i = Σ_n λ_ni Y_n/(1+t_ni); and
/// welfare Ŵ_n = Ŷ_n / P̂_n with P̂_n^(−k) = Ŷ_n^(κ−1) ŵ_n^(−θ_w) f̂_nn^(1−κ) / λ̂_nn (Ŵ = λ̂_nn^(−1/k)
/// without tariffs). Needs one common k, free entry, every cutoff interior and no outside good.
public struct MelitzHatAlgebra: Sendable {
    public var base: MelitzSolution
    public init(base: MelitzSolution) { self.base = base }

    public struct Result: Sendable {
        /// New wages with mean one.
        public var wages: [Double]
        public var tradeShares: [[Double]]
        /// W′_n / W_n.
        public var welfareChange: [Double]
        public var iterations: Int
    }

    public func counterfactual(tradeCosts newTau: [[Double]], fixedCosts newF: [[Double]], tariffs newT: [[Double]]) throws -> Result {
        let world = base.world, n = world.count
        guard let k = world.commonParetoShape else {
            throw FirmsError(key: "firms.distribution", problem: "exact hat algebra needs Pareto productivity with one shape k in every country; re-solve instead")
        }
        guard case .free = world.entry, world.differentiatedShare == nil else {
            throw FirmsError(key: "firms.entry", problem: "exact hat algebra is implemented for free entry without an outside good; re-solve instead")
        }
        let sigma = world.sigma, kappa = k / (sigma - 1), thetaW = sigma * kappa - 1
        let lambda = base.tradeShares
        var shift = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for dest in 0..<n { for src in 0..<n {
            let f0 = world.fixedCosts[dest][src], f1 = newF[dest][src]
            guard f0 > 0 && f1 > 0 else {
                throw FirmsError(key: "firms.fixed_cost", problem: "exact hat algebra needs positive fixed costs (a zero f_ni has no interior cutoff)")
            }
            shift[dest][src] = pow(newTau[dest][src] / world.tradeCosts[dest][src], -k) * pow(f1 / f0, 1 - kappa)
                * pow((1 + newT[dest][src]) / (1 + world.tariffs[dest][src]), 1 - sigma * kappa)
        } }
        let labourIncome = (0..<n).map { base.wages[$0] * world.labour[$0] }
        func shares(_ what: [Double]) -> [[Double]] {
            (0..<n).map { dest in
                let terms = (0..<n).map { lambda[dest][$0] * shift[dest][$0] * pow(what[$0], -thetaW) }
                let total = terms.reduce(0, +)
                return terms.map { $0 / total }
            }
        }
        func incomes(_ what: [Double], _ l: [[Double]]) -> [Double] {
            (0..<n).map { dest in
                let kept = (0..<n).reduce(0.0) { $0 + newT[dest][$1] / (1 + newT[dest][$1]) * l[dest][$1] }
                return what[dest] * labourIncome[dest] / (1 - kept)
            }
        }
        func residual(_ logW: [Double]) -> [Double] {
            let what = logW.map(exp) + [1]
            let l = shares(what), y = incomes(what, l)
            return (0..<(n - 1)).map { src in
                let sold = (0..<n).reduce(0.0) { $0 + l[$1][src] * y[$1] / (1 + newT[$1][src]) }
                return sold / (what[src] * labourIncome[src]) - 1
            }
        }
        let (u, report) = MelitzEquilibrium.newton(residual, start: [Double](repeating: 0, count: n - 1), tolerance: 1e-14,
                                                   maxIterations: 100)
        guard report.residual <= 1e-12 else {
            throw FirmsError(key: "", problem: "the hat-algebra wage system did not converge (residual \(report.residual))")
        }
        let what = u.map(exp) + [1]
        let l = shares(what), y = incomes(what, l)
        let oldIncome = base.income
        let welfare = (0..<n).map { dest -> Double in
            let yHat = y[dest] / oldIncome[dest]
            let fHat = newF[dest][dest] / world.fixedCosts[dest][dest]
            let pHatMinusK = pow(yHat, kappa - 1) * pow(what[dest], -thetaW) * pow(fHat, 1 - kappa) / (l[dest][dest] / lambda[dest][dest])
            return yHat * pow(pHatMinusK, 1 / k)
        }
        let newWages = (0..<n).map { what[$0] * base.wages[$0] }
        let c = Double(n) / newWages.reduce(0, +)
        return Result(wages: newWages.map { c * $0 }, tradeShares: l, welfareChange: welfare, iterations: report.iterations)
    }
}
