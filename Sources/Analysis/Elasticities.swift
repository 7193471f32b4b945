import Foundation
import HATModel
import Parallel

/// Micro trade elasticities of every state with respect to every source's price (HAT-SPEC §6.1), their
/// extensive/intensive decomposition, and the bilateral and aggregate elasticities built from them (§6.2).
///
/// For source j, F_j(x) re-solves the household with log p_ij = x (cold start, `tolerance`) and returns
/// [log π_j, log π_i, log c_j, log c_i] over the states; the derivative is the three-point central
/// difference (F(x₀+h) − F(x₀−h)) / 2h with the spec's absolute step h. Arrays are `[source][state]`.
public struct MicroElasticities: Sendable {
    /// h = (½ ε / (10 · ⅙))^(1/3): FiniteDifferences.jl's central method with condition number 10.
    public static let step = 4.053720738153884e-6

    public var home: Int
    public var sources: Int
    public var states: Int
    /// ∂ log π_ij / ∂ log p_ij.
    public var thetaPi: [Double]
    /// ∂ log π_ii / ∂ log p_ij.
    public var thetaPiHome: [Double]
    /// ∂ log c_ij / ∂ log p_ij.
    public var thetaC: [Double]
    /// ∂ log c_ii / ∂ log p_ij.
    public var thetaCHome: [Double]
    /// Household solves that hit their iteration cap (the spec's "may not have converged").
    public var unconvergedSolves: Int

    /// θᴱ = θπ − θπii (extensive margin).
    public var extensive: [Double] { zip(thetaPi, thetaPiHome).map { $0 - $1 } }
    /// θᴵ = θc − θcii (intensive margin).
    public var intensive: [Double] { zip(thetaC, thetaCHome).map { $0 - $1 } }
    /// θ = 1 + θᴱ + θᴵ.
    public var total: [Double] {
        (0..<thetaPi.count).map { k -> Double in
            let extensive = thetaPi[k] - thetaPiHome[k], intensive = thetaC[k] - thetaCHome[k]
            return 1 + extensive + intensive
        }
    }

    /// Compute for every source j = 1..M (collective: sources are spread over the ranks, each source's two
    /// solves on one rank, so the result does not depend on the rank count).
    public static func compute(_ base: AnalysedHousehold, tolerance: Double = 1e-10, maxIterations: Int = 500,
                               communicator comm: Communicator) throws -> MicroElasticities {
        let nS = base.stateCount, m = base.varietyCount, i = base.country
        let solver = HouseholdSolver(assets: base.assetCount, shocks: base.shockCount, varieties: m)
        let h = step
        let rows: [SourceDerivatives] = try distributedMap(count: m, communicator: comm) { j in
            var unconverged = 0
            func evaluate(_ x: Double) throws -> [[Double]] {
                var pr = base.problem
                pr.prices[j] = exp(x)
                let stats = try solver.solve(pr, tolerance: tolerance, maxIterations: maxIterations)
                if !stats.converged { unconverged += 1 }
                let pi = solver.choiceProbabilities, c = solver.consumption
                func logs(_ x: [Double], _ v: Int) -> [Double] { x[(v * nS)..<((v + 1) * nS)].map { Foundation.log($0) } }
                return [logs(pi, j), logs(pi, i), logs(c, j), logs(c, i)]
            }
            do {
                let x0 = Foundation.log(base.problem.prices[j])
                let up = try evaluate(x0 + h), down = try evaluate(x0 - h)
                let d = (0..<4).map { r in (0..<nS).map { (up[r][$0] - down[r][$0]) / (2 * h) } }
                return (SourceDerivatives(arrays: d, unconverged: unconverged), "")
            } catch {
                return (nil, "micro elasticities, source \(j + 1): \(error)")
            }
        }
        return MicroElasticities(home: i, sources: m, states: nS,
                                 thetaPi: rows.flatMap { $0.arrays[0] }, thetaPiHome: rows.flatMap { $0.arrays[1] },
                                 thetaC: rows.flatMap { $0.arrays[2] }, thetaCHome: rows.flatMap { $0.arrays[3] },
                                 unconvergedSolves: rows.reduce(0) { $0 + $1.unconverged })
    }

    /// Bilateral elasticities θ_ij of every source (Proposition 1; θ_ii = 1): with expenditure weights
    /// ω_j(k) = e_kj λ_k / Σ_k e_kj λ_k,
    /// θ_ij = 1 + Σ_k (θπ_j + θc_j) ω_j − Σ_k (θπii_j + θcii_j) ω_i.
    public func bilateral(_ base: AnalysedHousehold) -> [Double] {
        let e = base.expenditure, lambda = base.masses
        func weights(_ j: Int) -> [Double] {
            let raw = (0..<states).map { e[base.index(variety: j, state: $0)] * lambda[$0] }
            var total = 0.0
            for r in raw { total += r }
            return raw.map { $0 / total }
        }
        let homeWeights = weights(home)
        return (0..<sources).map { j in
            if j == home { return 1 }
            let w = weights(j)
            var own = 0.0, cross = 0.0
            for k in 0..<states {
                let idx = j * states + k
                own += (thetaPi[idx] + thetaC[idx]) * w[k]
                cross += (thetaPiHome[idx] + thetaCHome[idx]) * homeWeights[k]
            }
            return 1 + own - cross
        }
    }

    /// The aggregate elasticity Σ_{j≠i} θ_ij π_ij / Σ_{j≠i} π_ij with the country's trade shares π_ij.
    public func aggregate(bilateral: [Double], tradeShares: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for j in 0..<sources where j != home {
            num += bilateral[j] * tradeShares[j]
            den += tradeShares[j]
        }
        return num / den
    }

    /// Each state's trade-weighted elasticity over the foreign sources,
    /// θ̄(k) = Σ_{j≠i} (1 + θᴱ_j + θᴵ_j) e_kj / Σ_{j≠i} e_kj (HAT-SPEC §6.4).
    public func stateElasticity(_ base: AnalysedHousehold) -> [Double] {
        let e = base.expenditure
        let theta = total
        return (0..<states).map { k in
            var num = 0.0, den = 0.0
            for j in 0..<sources where j != home {
                let x = e[base.index(variety: j, state: k)]
                num += theta[j * states + k] * x
                den += x
            }
            return den > 0 ? num / den : 0
        }
    }
}

/// One source's four derivative arrays, as gathered from its rank.
struct SourceDerivatives: Packable {
    var arrays: [[Double]]
    var unconverged: Int
    init(arrays: [[Double]], unconverged: Int) { self.arrays = arrays; self.unconverged = unconverged }
    func pack(into m: inout MessageWriter) { for a in arrays { m.write(a) }; m.write(unconverged) }
    init(unpacking m: inout MessageReader) throws {
        arrays = try (0..<4).map { _ in try m.read() as [Double] }
        unconverged = try m.read()
    }
}

/// Aggregate trade shares of the analysed country from its household: π_ij = Σ_k λ_k e_kj / Σ_k λ_k pc_k.
public func importShares(_ base: AnalysedHousehold) -> [Double] {
    let e = base.expenditure
    var flows = [Double](repeating: 0, count: base.varietyCount)
    for j in 0..<base.varietyCount {
        for k in 0..<base.stateCount { flows[j] += base.masses[k] * e[base.index(variety: j, state: k)] }
    }
    var total = 0.0
    for f in flows { total += f }
    return flows.map { $0 / total }
}

/// Marginal propensities to consume (HAT-SPEC §6.3): one Coleman step from the converged (c*, v*) with a
/// one-off transfer τ′ today; mpc_kj = (ĉ_kj − c*_kj) / τ′ (quantity of j per unit of money), and the
/// household's mpc̄(k) = Σ_j mpc_kj e_kj / Σ_j e_kj.
public struct MarginalPropensities: Sendable {
    /// τ′ = 0.008 (the paper's "1,000 USD", written 0.016/2 in the author's code).
    public static let transfer = 0.008
    /// `[variety][state]`.
    public var byVariety: [Double]
    /// `[state]`.
    public var byState: [Double]

    public static func compute(_ base: AnalysedHousehold, transfer: Double = MarginalPropensities.transfer) throws -> MarginalPropensities {
        var pr = base.problem
        pr.transfer += transfer
        let solver = HouseholdSolver(assets: base.assetCount, shocks: base.shockCount, varieties: base.varietyCount)
        let step = try solver.step(pr, from: base.policy)
        let c0 = base.policy.consumption
        let mpc = (0..<c0.count).map { (step.policy.consumption[$0] - c0[$0]) / transfer }
        let e = base.expenditure
        let byState = (0..<base.stateCount).map { k -> Double in
            var num = 0.0, den = 0.0
            for j in 0..<base.varietyCount {
                let idx = base.index(variety: j, state: k)
                num += mpc[idx] * e[idx]
                den += e[idx]
            }
            return num / den
        }
        return MarginalPropensities(byVariety: mpc, byState: byState)
    }
}
