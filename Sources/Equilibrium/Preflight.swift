import Foundation
import HATModel

/// What a solve will need, estimated from the configuration before anything is allocated.
public struct ResourceEstimate: Sendable {
    /// Peak bytes of one rank that owns `countriesPerRank` countries (workspaces, income process, output copies).
    public var bytesPerRank: Double
    /// Bytes of one country's household and distribution workspaces.
    public var bytesPerCountry: Double
    /// Floating-point operations of one world evaluation at the household iteration cap (an upper bound).
    public var flopsPerEvaluation: Double
    public var countriesPerRank: Int

    /// Sizes: N_a asset points, S income states, M countries (= varieties), split over `ranks`.
    /// `piecesPerRank`: the most countries or blocks of countries one rank holds in the layout (each holds a
    /// whole country's arrays); by default ⌈M/P⌉, the whole-country layout.
    public init(assets na: Int, persistentStates np: Int, transitoryStates ni: Int, countries m: Int, ranks: Int,
                householdMaxIterations: Int = 500, piecesPerRank: Int? = nil) {
        let a = Double(na), s = Double(np) * Double(ni), mm = Double(m)
        let states = a * s, all = states * mm
        // HouseholdSolver: c, v, a′, π kept per country (4 doubles per state and variety), 9 [shock][asset]
        // scratch rows, 2 [asset] rows. Distribution: three [shock][asset] arrays, band indices (3 × 4 bytes),
        // and at most 2 band weights (8 bytes) and sparse targets (4 bytes) per state and variety, with the
        // array's growth slack (× 1.5). Once per rank, the shared HouseholdScratch: the spare c and v, both
        // c^−γ, the lottery weight (5 doubles) and index (4 bytes).
        bytesPerCountry = all * (4 * 8) + states * (9 * 8 + 3 * 8 + 3 * 4) + 1.5 * 2 * all * 12 + 2 * a * 8
        let scratch = all * (5 * 8 + 4)
        // The layout's pieces per rank (a later rebalancing never adds one).
        countriesPerRank = max(1, piecesPerRank ?? (m + max(ranks, 1) - 1) / max(ranks, 1))
        // Income process: the Rouwenhorst recursion (two n_P² tables), the S² transition and its copies in the
        // chain and the LAPACK solve. Output: the household arrays of a run of whole countries are copied
        // while written. Plus the runtime,
        // MPI and HDF5 (about 64 MiB measured).
        let income = 2 * Double(np) * Double(np) * 8 + 4 * s * s * 8
        let outputCopies = Double(countriesPerRank + 1) * all * 8
        // Moving a country to another rank after the first evaluation: its four arrays gathered and
        // assembled on every rank, and its c, v and λ held by the receiver.
        let migration = 10 * all * 8
        bytesPerRank = Double(countriesPerRank) * bytesPerCountry + scratch + income + max(outputCopies, migration)
            + 64 * 1024 * 1024
        // One Coleman step: about 60 flops per state and variety plus two S × S × N_a GEMMs; the distribution
        // is cheaper. The income process: Rouwenhorst n_P³ and the stationary solve S³.
        let step = 60 * all + 4 * s * s * a
        flopsPerEvaluation = Double(countriesPerRank) * Double(householdMaxIterations + 1) * step
            + pow(Double(np), 3) + pow(s, 3)
    }
}

/// Memory this process may still use: the smaller of MemAvailable and the cgroup's limit less its usage
/// (SLURM confines jobs with cgroups). Nil if neither can be read.
public func availableMemoryBytes() -> Double? {
    var best: Double?
    if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
       let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
       let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
        best = kb * 1024
    }
    if let cgroup = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
       let line = cgroup.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) {
        let dir = "/sys/fs/cgroup" + line.dropFirst(3)
        func read(_ name: String) -> Double? {
            (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8))
                .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        if let limit = read("memory.max") {
            // memory.current counts the page cache too; its inactive part is reclaimed before an OOM kill.
            let stat = (try? String(contentsOfFile: dir + "/memory.stat", encoding: .utf8)) ?? ""
            let inactive = stat.split(separator: "\n").first { $0.hasPrefix("inactive_file ") }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            let free = limit - max((read("memory.current") ?? 0) - inactive, 0)
            best = min(best ?? free, free)
        }
    }
    // cgroup v1 (older SLURM setups): the memory controller's limit.
    if let v1 = try? String(contentsOfFile: "/sys/fs/cgroup/memory/memory.limit_in_bytes", encoding: .utf8),
       let limit = Double(v1.trimmingCharacters(in: .whitespacesAndNewlines)), limit < 1e18 {
        let usage = (try? String(contentsOfFile: "/sys/fs/cgroup/memory/memory.usage_in_bytes", encoding: .utf8))
            .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        best = min(best ?? (limit - usage), limit - usage)
    }
    return best
}

/// A reason the household problem cannot be solved at the starting prices, found in closed form.
public struct InfeasibleStart: Sendable {
    /// The configuration key to change.
    public var key: String
    public var problem: String
}

extension World {
    /// Checks at the starting prices that need no solve (HAT-SPEC §9 item 4):
    /// - a household at the borrowing limit with the lowest income can pay the interest on its debt and still
    ///   consume: w_i z_min − (R_i − 1) φ A_i > 0;
    /// - marginal utility c^−γ is a finite, non-zero double over the consumption levels of the initial guess
    ///   and of the grid's top (γ |log c| below 690).
    public func infeasibleStart(model: ModelParameters, income: IncomeProcess, prices: Prices,
                                rateIsFixed: Bool) -> InfeasibleStart? {
        let zMin = income.z.min() ?? 1, zMax = income.z.max() ?? 1
        for i in 0..<count {
            let a = tfp[i], r = prices.rates[i], w = prices.wages[i]
            let scaling = CountryScaling(tfp: a, model: model)
            let interest = (r - 1) * scaling.debtLimit
            if w * zMin - interest <= 0 {
                let what = rateIsFixed ? "R = \(r)" : "the initial guess R = \(r)"
                return InfeasibleStart(key: "equilibrium.rate", problem: String(
                    format: "%@ is infeasible in %@: a household at the borrowing limit (-phi A = %.4g) with the lowest income (w z_min = %.4g) cannot pay the interest (R-1) phi A = %.4g; R must stay below %.6g here",
                    what, names[i], -scaling.debtLimit, w * zMin, interest, 1 + w * zMin / max(scaling.debtLimit, .leastNonzeroMagnitude)))
            }
            if !model.isLogUtility {
                let p = supply.spendingElasticity > 0
                    ? supply.buyerPrices(world: self, importer: i, wages: prices.wages, spending: CompositePrices.startingSpending(
                        world: self, importer: i, wages: prices.wages, sigma: scaling.sigma, income: income,
                        homeQuality: scaling.homeQuality(income)))
                    : buyerPrices(importer: i, wages: prices.wages)
                let cLow = (w * zMin - interest) / (p.max() ?? 1)
                let cHigh = (r * scaling.topAssets + w * zMax + scaling.debtLimit) / (p.min() ?? 1)
                let spread = max(abs(log(cLow)), abs(log(cHigh)))
                if !(model.gamma * spread < 690) {
                    return InfeasibleStart(key: "model.gamma", problem: String(
                        format: "gamma = %g makes marginal utility c^-gamma overflow or underflow a double in %@ (consumption from %.3g to %.3g at the starting prices; gamma |log c| must stay below 690, so gamma below %.3g here)",
                        model.gamma, names[i], cLow, cHigh, 690 / max(spread, .leastNonzeroMagnitude)))
                }
            }
        }
        return nil
    }
}

extension World {
    /// The market residuals are sums of per-capita quantities times L_i (HAT-SPEC §4.1), compared with an
    /// absolute tolerance. Their rounding error is at least one unit in the last place of the largest term,
    /// about ε L_i w_i; when that exceeds the tolerance by orders of magnitude (labor of 1e300 makes the
    /// residual overflow outright), no root can satisfy the tolerance: refuse before solving rather than
    /// stall at a "noise floor" of infinity.
    public func unresolvableResiduals(prices: Prices, tolerance: Double) -> InfeasibleStart? {
        let margin = 1e3
        for i in 0..<count {
            let scale = labor[i] * max(prices.wages[i], 1)
            let rounding = Double.ulpOfOne * scale
            if !scale.isFinite || rounding > margin * tolerance {
                return InfeasibleStart(key: "world.labor", problem: String(
                    format: "labor %.3g in %@ puts the market residuals (in units of L w) on a scale where their rounding error, about %.2g, is far above equilibrium.tolerance %.1e (and near 1e308 they overflow): rescale world.labor or loosen the tolerance",
                    labor[i], names[i], rounding, tolerance))
            }
        }
        return nil
    }
}
