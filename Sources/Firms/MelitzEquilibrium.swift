import Foundation
import Solvers

/// The firm block at given wages w and demand shifters B (FIRMS-SPEC §1.2, with tariffs). A firm of
/// productivity φ from i earns the variable profit a_ni φ^(σ−1) in n, with
/// a_ni = B_n (1 + t_ni)^(−σ) (τ_ni w_i)^(1−σ), and pays w_i f_ni to serve it, so the cutoff is
/// φ*_ni = (w_i f_ni / a_ni)^(1/(σ−1)), producer sales per entrant are σ a_ni ∫_{φ*} φ^(σ−1) dG_i and
/// expected profit per entrant (in units of w_i) is Σ_n [a_ni/w_i ∫_{φ*} φ^(σ−1) dG − f_ni (1 − G(φ*))].
/// Consumers in n spend E_n = Σ_i (1 + t_ni) X_ni, and B_n = (σ−1)^(σ−1) σ^(−σ) E_n P_n^(σ−1).
struct FirmBlock {
    let world: MelitzWorld
    let n: Int
    let p: Double
    var profitShifter: [Double]    // a_ni, n-major
    var cutoffs: [Double]
    var survival: [Double]
    var moments: [Double]

    init(world: MelitzWorld, wages w: [Double], shifters b: [Double]) {
        self.world = world
        n = world.count
        p = world.sigma - 1
        let sigma = world.sigma
        profitShifter = [Double](repeating: 0, count: n * n)
        cutoffs = profitShifter; survival = profitShifter; moments = profitShifter
        for dest in 0..<n {
            for src in 0..<n {
                let k = dest * n + src
                let a = b[dest] * pow(1 + world.tariffs[dest][src], -sigma) * pow(world.tradeCosts[dest][src] * w[src], -p)
                let g = world.distributions[src]
                let cut = pow(w[src] * world.fixedCosts[dest][src] / a, 1 / p)
                profitShifter[k] = a; cutoffs[k] = cut
                survival[k] = g.survival(cut); moments[k] = g.partialMoment(cut, power: p)
            }
        }
    }

    /// Expected profit per entrant of i in units of w_i, minus f_E,i (zero under free entry).
    func entryResidual(_ src: Int, wage: Double) -> Double {
        var total = -world.entryCosts[src]
        for dest in 0..<n {
            let k = dest * n + src
            total += profitShifter[k] / wage * moments[k] - world.fixedCosts[dest][src] * survival[k]
        }
        return total
    }

    /// Producer sales of i's firms in n per entrant.
    func salesPerEntrant(_ dest: Int, _ src: Int) -> Double {
        let k = dest * n + src
        return world.sigma * profitShifter[k] * moments[k]
    }

    /// M_E,i from labour-market clearing under free entry: L_i / (σ [f_E,i + Σ_n f_ni (1 − G(φ*_ni))]).
    func freeEntryMass(_ src: Int) -> Double {
        var fixed = world.entryCosts[src]
        for dest in 0..<n { fixed += world.fixedCosts[dest][src] * survival[dest * n + src] }
        return world.labour[src] / (world.sigma * fixed)
    }
}

/// How the solve ended.
public struct MelitzSolveReport: Sendable {
    public var converged: Bool
    public var iterations: Int
    /// max_n |Σ_i X_ni − income_n| / income_n (spending equals income), and the entry/labour block likewise.
    public var residual: Double
}

/// The Melitz–Chaney equilibrium (FIRMS-SPEC §2): the outer unknowns are the wages (numeraire w_N = 1 while
/// solving, reported with mean one), the inner ones the demand shifters B. Under free entry B solves the N
/// free-entry conditions given w (Newton in log B from above, where the system is increasing and convex, so
/// the iterates fall monotonically to the root or show that none is positive); the outer residual is each
/// country's spending at producer prices against its income. Computed identically on every rank (it is
/// O(N²) per evaluation), so results do not depend on the rank count.
public struct MelitzEquilibrium: Sendable {
    public var world: MelitzWorld
    public var tolerance = 1e-13
    public var maxIterations = 100
    /// Where the wages start (any scale; default all one).
    public var startingWages: [Double]?

    public init(world: MelitzWorld) { self.world = world }

    /// The free-entry demand shifters (log B) at wages w: Newton with backtracking on the residual's norm
    /// (the Jacobian ∂F_i/∂ln B_n = a_ni/w_i ∫_{φ*} φ^(σ−1) dG is analytic: the cutoff term vanishes by zero
    /// profit at the cutoff). Throws when no positive solution is reached (FIRMS-SPEC §2.2's pitfall).
    func freeEntryShifters(wages w: [Double], start: [Double]?) throws -> [Double] {
        let n = world.count
        var logB = try start ?? firstShifters(wages: w)
        func residual(_ lb: [Double]) -> ([Double], FirmBlock) {
            let block = FirmBlock(world: world, wages: w, shifters: lb.map(exp))
            return ((0..<n).map { block.entryResidual($0, wage: w[$0]) / world.entryCosts[$0] }, block)
        }
        if start == nil {
            // A common shift of log B first (bisection: the mean residual rises in it), so that Newton starts
            // at the right scale whatever the units.
            func mean(_ c: Double) -> Double { let f = residual(logB.map { $0 + c }).0; return f.reduce(0, +) / Double(n) }
            var lo = -1.0, hi = 1.0
            while mean(lo) > 0 && lo > -700 { lo *= 2 }
            while mean(hi) < 0 && hi < 700 { hi *= 2 }
            for _ in 0..<200 where hi - lo > 1e-12 {
                let mid = 0.5 * (lo + hi)
                if mean(mid) > 0 { hi = mid } else { lo = mid }
            }
            logB = logB.map { $0 + 0.5 * (lo + hi) }
        }
        var (f, block) = residual(logB)
        for _ in 0..<200 {
            if normInf(f) <= 1e-14 { return logB }
            var jac = [Double](repeating: 0, count: n * n)
            for src in 0..<n { for dest in 0..<n {
                let k = dest * n + src
                jac[src * n + dest] = block.profitShifter[k] / w[src] * block.moments[k] / world.entryCosts[src]
            } }
            guard let step = linearSolve(jac, f, n: n, columns: 1) else { break }
            var scale = 1.0, accepted = false
            for _ in 0..<40 {
                let trial = zip(logB, step).map { $0 - scale * $1 }
                let (ft, bt) = residual(trial)
                if normInf(ft) < normInf(f) { logB = trial; f = ft; block = bt; accepted = true; break }
                scale *= 0.5
            }
            if !accepted || logB.contains(where: { !$0.isFinite || abs($0) > 700 }) { break }
        }
        if normInf(f) <= 1e-12 { return logB }
        throw FirmsError(key: "", problem: "the free-entry conditions have no positive solution at these wages (some country's firms are profitable abroad however small its own market)")
    }

    /// A start for log B: the Pareto closed form where every country is Pareto (free entry is linear in
    /// B^κ when every cutoff is interior), else B with each domestic market alone covering entry.
    func firstShifters(wages w: [Double]) throws -> [Double] {
        let n = world.count, sigma = world.sigma, p = sigma - 1
        if world.distributions.allSatisfy({ $0.paretoShape != nil }) {
            var a = [Double](repeating: 0, count: n * n)
            var rhs = [Double](repeating: 0, count: n)
            // Σ_n c_ni x_n = f_E,i with x_n = B_n^κ, κ = k/(σ−1) per source.
            for src in 0..<n {
                guard case let .pareto(k, b) = world.distributions[src] else { continue }
                let kappa = k / p
                rhs[src] = world.entryCosts[src]
                for dest in 0..<n {
                    let f = world.fixedCosts[dest][src]
                    let shifter = pow(1 + world.tariffs[dest][src], -sigma) * pow(world.tradeCosts[dest][src] * w[src], -p)
                    a[src * n + dest] = f > 0 ? pow(b, k) * pow(f, 1 - kappa) * pow(w[src], -kappa) * pow(shifter, kappa) / (kappa - 1) : 0
                }
            }
            if let common = world.commonParetoShape, let x = linearSolve(a, rhs, n: n, columns: 1), x.allSatisfy({ $0 > 0 }) {
                return x.map { log($0) * p / common }
            }
        }
        return [Double](repeating: 0, count: n)
    }

    /// The solved equilibrium (throws, naming the condition, when one fails or the solve does not converge).
    public func solve() throws -> MelitzSolution {
        try world.validate()
        let n = world.count
        if let beta = world.differentiatedShare { return try solveWithOutsideGood(share: beta) }
        if case .fixed = world.entry { return try solveFixedEntry() }
        // Wages and shifters together: Newton on (log w_1..N−1, log B) for free entry and spending, with a
        // finite-difference Jacobian and backtracking, so that no intermediate wage vector needs a positive
        // free-entry solution of its own (far from equilibrium there may be none). B starts where free entry
        // holds at the start's wages if it can, else from the Pareto closed form or one.
        // Starts in turn until one converges: the given wages, the Pareto closed form (Pareto worlds), the
        // closed forms of Pareto surrogates of other distributions (shapes 3, 1.5 and 6 times σ − 1), w = 1.
        var starts: [[Double]] = []
        if let w = startingWages { starts.append(w) }
        if let w = paretoWages() { starts.append(w) }
        for shape in [3.0, 1.5, 6.0] { if let w = surrogateWages(shape: shape) { starts.append(w) } }
        starts.append([Double](repeating: 1, count: n))
        func residual(_ u: [Double]) -> [Double] {
            let w = Array(u[0..<(n - 1)]).map(exp) + [1]
            let block = FirmBlock(world: world, wages: w, shifters: Array(u[(n - 1)...]).map(exp))
            var out = (0..<n).map { block.entryResidual($0, wage: w[$0]) / world.entryCosts[$0] }
            let mass = (0..<n).map { block.freeEntryMass($0) }
            for dest in 0..<(n - 1) {
                var spend = 0.0
                for src in 0..<n { spend += block.salesPerEntrant(dest, src) * mass[src] }
                out.append(spend / (w[dest] * world.labour[dest]) - 1)
            }
            return out
        }
        var best: ([Double], MelitzSolveReport)?
        for w0 in starts {
            let wStart = w0.map { $0 / w0[n - 1] }
            let logB0 = try (try? freeEntryShifters(wages: wStart, start: nil)) ?? firstShifters(wages: wStart)
            let (u, report) = newton(residual, start: Array(wStart.dropLast()).map(log) + logB0)
            if best == nil || report.residual < best!.1.residual || (report.converged && !best!.1.converged) { best = (u, report) }
            if report.converged { break }
        }
        let (u, report) = best!
        return try MelitzSolution(world: world, wages: Array(u[0..<(n - 1)]).map(exp) + [1], shifters: Array(u[(n - 1)...]).map(exp),
                                  entryMass: nil, report: report)
    }

    /// The wages of the Pareto closed form (FIRMS-SPEC §2.1: one k, free entry, no outside good), where the
    /// shares are λ_ni ∝ S_i τ_ni^(−k) f_ni^(1−κ) (1+t_ni)^(1−σκ) w_i^(−θ_w) while every cutoff is interior: an
    /// Eaton–Kortum-like system with gross substitutes, which the hybrid method solves from w = 1 even with
    /// wide wage dispersion. Only a start: the joint solve then holds whether or not the cutoffs are interior.
    func paretoWages() -> [Double]? {
        guard let k = world.commonParetoShape, case .free = world.entry, world.differentiatedShare == nil,
              !world.fixedCosts.joined().contains(0), world.count > 1 else { return nil }
        let n = world.count, sigma = world.sigma, kappa = k / (sigma - 1), thetaW = sigma * kappa - 1
        var logBase = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for dest in 0..<n { for src in 0..<n {
            guard case let .pareto(_, b) = world.distributions[src] else { return nil }
            let s = log(world.labour[src]) + k * log(b) - log(world.entryCosts[src])
            logBase[dest][src] = s - k * log(world.tradeCosts[dest][src]) + (1 - kappa) * log(world.fixedCosts[dest][src])
                + (1 - sigma * kappa) * log(1 + world.tariffs[dest][src])
        } }
        func residual(_ x: [Double]) -> [Double] {
            let w = x.map(exp) + [1]
            var sold = [Double](repeating: 0, count: n)
            for dest in 0..<n {
                let logs = (0..<n).map { logBase[dest][$0] - thetaW * log(w[$0]) }
                let top = logs.max()!
                let terms = logs.map { exp($0 - top) }
                let total = terms.reduce(0, +)
                var kept = 0.0
                for src in 0..<n { kept += world.tariffs[dest][src] / (1 + world.tariffs[dest][src]) * terms[src] / total }
                let income = w[dest] * world.labour[dest] / (1 - kept)
                for src in 0..<n { sold[src] += terms[src] / total * income / (1 + world.tariffs[dest][src]) }
            }
            return (0..<(n - 1)).map { sold[$0] / (w[$0] * world.labour[$0]) - 1 }
        }
        // To the joint solve's own tolerance: where every cutoff is interior this is the equilibrium, and the
        // joint solve then only confirms it (one evaluation, no Jacobian).
        // From equal wages, then from the frictionless world's wages, w_i^(1+θ_w) ∝ S_i/L_i = b_i^k/f_E,i: with
        // productivity spread over orders of magnitude, equal wages are too far for the hybrid method.
        let finder = HybridRootFinder(tolerance: 0.1 * tolerance, maxIterations: 500)
        let frictionless = (0..<n).map { logBase[$0][$0] - log(world.labour[$0]) }
        let starts = [[Double](repeating: 0, count: n - 1),
                      (0..<(n - 1)).map { (frictionless[$0] - frictionless[n - 1]) / (1 + thetaW) }]
        var first: [Double]?
        for start in starts {
            guard let r = try? finder.solve(from: start, residual: residual), r.residual.allSatisfy({ $0.isFinite }) else { continue }
            if r.converged { return r.x.map(exp) + [1] }
            if first == nil { first = r.x.map(exp) + [1] }
        }
        return first
    }

    /// A start for worlds that are not all untruncated Pareto: the Pareto closed-form wages of the surrogate
    /// world in which every country's distribution is Pareto with its own lower bound (the lognormal's median)
    /// and one shape, `multiple` × (σ − 1). Wages far from equilibrium can leave free entry without a
    /// positive solution (FIRMS-SPEC §2.2); the surrogate's wages carry the countries' productivity scale, and
    /// with it most of the wage dispersion.
    func surrogateWages(shape multiple: Double) -> [Double]? {
        guard world.commonParetoShape == nil else { return nil }
        var surrogate = world
        let k = multiple * (world.sigma - 1)
        surrogate.distributions = world.distributions.map { g in
            .pareto(shape: k, lowerBound: g.lowerSupport > 0 ? g.lowerSupport : g.quantile(0.5))
        }
        return MelitzEquilibrium(world: surrogate).paretoWages()
    }

    /// Newton with a forward-difference Jacobian and backtracking on max|F|, to this solve's tolerance.
    func newton(_ residual: ([Double]) -> [Double], start: [Double]) -> ([Double], MelitzSolveReport) {
        Self.newton(residual, start: start, tolerance: tolerance, maxIterations: maxIterations)
    }

    /// Newton with a forward-difference Jacobian and backtracking on max|F| (converged within 10 × tolerance).
    static func newton(_ residual: ([Double]) -> [Double], start: [Double], tolerance: Double,
                       maxIterations: Int) -> ([Double], MelitzSolveReport) {
        var u = start
        var z = residual(u)
        let m = u.count
        var iterations = 0
        while !(normInf(z) <= tolerance) && iterations < maxIterations {
            iterations += 1
            var jac = [Double](repeating: 0, count: m * m)
            for c in 0..<m {
                var s = u
                let h = 1e-7 * max(1, abs(u[c]))
                s[c] += h
                let zp = residual(s)
                for r in 0..<m { jac[r * m + c] = (zp[r] - z[r]) / h }
            }
            guard let step = linearSolve(jac, z, n: m, columns: 1) else { break }
            var scale = 1.0, accepted = false
            for _ in 0..<50 {
                let trial = zip(u, step).map { $0 - scale * $1 }
                let zt = residual(trial)
                if normInf(zt) < normInf(z) { u = trial; z = zt; accepted = true; break }
                scale *= 0.5
            }
            if !accepted { break }
        }
        let r = normInf(z)
        return (u, MelitzSolveReport(converged: r <= 10 * tolerance, iterations: iterations, residual: r))
    }

    /// Free entry at given wages (mean one is not imposed): the firm block and the price indices, with goods
    /// markets not necessarily clear. For partial elasticities ("at fixed wages") and the homogeneity checks.
    public func solveAtFixedWages(_ w: [Double]) throws -> MelitzSolution {
        try world.validate()
        guard case .free = world.entry, world.differentiatedShare == nil else {
            throw FirmsError(key: "firms.entry", problem: "fixed wages are for free entry without an outside good")
        }
        let b = try freeEntryShifters(wages: w, start: nil).map(exp)
        var solution = try MelitzSolution(world: world, wages: w, shifters: b, entryMass: nil,
                                          report: MelitzSolveReport(converged: true, iterations: 0, residual: .nan), normalise: false)
        solution.report.residual = .nan
        return solution
    }

    /// Chaney: the masses are given, profits are income; B and w solved jointly by Newton (importer spending
    /// equals income, and labour demand equals supply).
    func solveFixedEntry() throws -> MelitzSolution {
        guard case let .fixed(mass) = world.entry else { fatalError() }
        let n = world.count
        func residual(_ u: [Double]) -> [Double] {
            let w = Array(u[0..<(n - 1)]).map(exp) + [1]
            let b = Array(u[(n - 1)...]).map(exp)
            let block = FirmBlock(world: world, wages: w, shifters: b)
            var out: [Double] = []
            // Labour of every country: production (σ−1)/σ X/w plus fixed costs.
            var profits = [Double](repeating: 0, count: n)
            for src in 0..<n {
                var labourUsed = 0.0
                for dest in 0..<n {
                    let x = block.salesPerEntrant(dest, src) * mass[src]
                    let fixed = world.fixedCosts[dest][src] * block.survival[dest * n + src] * mass[src]
                    labourUsed += (world.sigma - 1) / world.sigma * x / w[src] + fixed
                    profits[src] += x / world.sigma - w[src] * fixed
                }
                out.append(labourUsed / world.labour[src] - 1)
            }
            // Spending at producer prices equals labour income plus profits (tariff revenue nets out).
            for dest in 0..<(n - 1) {
                var spend = 0.0
                for src in 0..<n { spend += block.salesPerEntrant(dest, src) * mass[src] }
                out.append(spend / (w[dest] * world.labour[dest] + profits[dest]) - 1)
            }
            return out
        }
        let ones = [Double](repeating: 1, count: n)
        let logB0 = (try? firstShifters(wages: ones)) ?? ones.map { _ in 0 }
        let (u, report) = newton(residual, start: [Double](repeating: 0, count: n - 1) + logB0)
        let w = Array(u[0..<(n - 1)]).map(exp) + [1]
        return try MelitzSolution(world: world, wages: w, shifters: Array(u[(n - 1)...]).map(exp), entryMass: mass, report: report)
    }

    /// An outside good produced everywhere: w ≡ 1, B from free entry alone, then the entry masses from the
    /// differentiated sector's spending, a linear system (FIRMS-SPEC §2.3).
    func solveWithOutsideGood(share beta: Double) throws -> MelitzSolution {
        guard case .free = world.entry else {
            throw FirmsError(key: "firms.differentiated_share", problem: "is implemented with free entry only")
        }
        let n = world.count
        let w = [Double](repeating: 1, count: n)
        let b = try freeEntryShifters(wages: w, start: nil).map(exp)
        let block = FirmBlock(world: world, wages: w, shifters: b)
        // Σ_i [(1 + t_ni) − β t_ni] X_ni = β L_n, with X_ni = sales per entrant × M_E,i.
        var a = [Double](repeating: 0, count: n * n)
        for dest in 0..<n { for src in 0..<n {
            let t = world.tariffs[dest][src]
            a[dest * n + src] = ((1 + t) - beta * t) * block.salesPerEntrant(dest, src)
        } }
        guard let mass = linearSolve(a, (0..<n).map { beta * world.labour[$0] }, n: n, columns: 1) else {
            throw FirmsError(key: "firms.differentiated_share", problem: "the entry masses are not determined (singular system)")
        }
        if let bad = mass.firstIndex(where: { $0 <= 0 }) {
            throw FirmsError(key: "firms.differentiated_share", problem: "\(world.names[bad]) would have a negative mass of entrants (it specialises out of the differentiated sector), so the outside good is not produced everywhere as assumed")
        }
        let report = MelitzSolveReport(converged: true, iterations: 0, residual: 0)
        let solution = try MelitzSolution(world: world, wages: w, shifters: b, entryMass: mass, report: report)
        for i in 0..<n where solution.labourSplit[i].total > 1 + 1e-12 {
            throw FirmsError(key: "firms.differentiated_share", problem: "\(world.names[i])'s differentiated sector needs \(solution.labourSplit[i].total) of its labour, so the outside good is not produced there as assumed")
        }
        return solution
    }
}
