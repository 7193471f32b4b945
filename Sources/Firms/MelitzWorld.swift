import Foundation

/// A failed condition of the firm model, naming the `[firms]` key (or the equilibrium condition) it is about.
public struct FirmsError: Error, CustomStringConvertible, Sendable {
    public var key: String
    public var problem: String
    public init(key: String, problem: String) { self.key = key; self.problem = problem }
    public var description: String { key.isEmpty ? problem : "\(key): \(problem)" }
}

/// How the mass of entrants is set.
public enum FirmEntry: Sendable, Equatable {
    /// Entrants pay f_E until expected profits are zero (Melitz).
    case free
    /// A given mass of potential firms per country (Chaney). Their profits are income of the firms' home
    /// country, paid to its households in proportion to labour income.
    case fixed(mass: [Double])
}

/// The Melitz–Chaney world: one CES sector of monopolistically competitive firms with heterogeneous
/// productivity, labour the only factor (FIRMS-SPEC §1). Matrices are importer rows: `tradeCosts[n][i]` is
/// the iceberg cost of delivering i's goods to n (τ_ni, as HAT's d_ij with i the importer).
public struct MelitzWorld: Sendable, Equatable {
    public var names: [String]
    public var labour: [Double]
    /// σ > 1, the elasticity of substitution between varieties.
    public var sigma: Double
    public var distributions: [ProductivityDistribution]
    /// f_E,i, in units of i's labour (free entry).
    public var entryCosts: [Double]
    /// f_ni (f_ii bundles plant overhead and domestic market access), in units of i's labour.
    public var fixedCosts: [[Double]]
    public var tradeCosts: [[Double]]
    /// Ad valorem tariffs t_ni on n's imports from i (consumer price p(1 + t)); revenue rebated to n.
    public var tariffs: [[Double]]
    public var entry: FirmEntry
    /// An outside good made one-for-one from labour and traded freely: w ≡ 1, and the differentiated sector
    /// gets the share `differentiatedShare` of spending, 1 − β.
    public var differentiatedShare: Double?

    public var count: Int { names.count }

    public init(names: [String], labour: [Double], sigma: Double, distributions: [ProductivityDistribution],
                entryCosts: [Double], fixedCosts: [[Double]], tradeCosts: [[Double]], tariffs: [[Double]]? = nil,
                entry: FirmEntry = .free, differentiatedShare: Double? = nil) {
        self.names = names; self.labour = labour; self.sigma = sigma; self.distributions = distributions
        self.entryCosts = entryCosts; self.fixedCosts = fixedCosts; self.tradeCosts = tradeCosts
        let n = names.count
        self.tariffs = tariffs ?? Array(repeating: Array(repeating: 0, count: n), count: n)
        self.entry = entry; self.differentiatedShare = differentiatedShare
    }

    /// The Pareto shape common to every country, if all are (untruncated) Pareto with the same k.
    public var commonParetoShape: Double? {
        guard let k = distributions.first?.paretoShape else { return nil }
        return distributions.allSatisfy({ $0.paretoShape == k }) ? k : nil
    }

    /// Every condition on the parameters that does not need a solve, each failure naming its key.
    public func validate() throws {
        let n = count
        guard n >= 1 else { throw FirmsError(key: "world.countries", problem: "no countries") }
        func positive(_ v: [Double], _ key: String) throws {
            guard v.count == n else { throw FirmsError(key: key, problem: "has \(v.count) entries, expected \(n) (one per country)") }
            if let bad = v.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
                throw FirmsError(key: key, problem: "entry \(bad + 1) is \(v[bad]); must be positive and finite")
            }
        }
        func matrix(_ m: [[Double]], _ key: String, atLeast low: Double, strict: Bool = false, diagonal: Double? = nil) throws {
            guard m.count == n, m.allSatisfy({ $0.count == n }) else {
                throw FirmsError(key: key, problem: "must be a \(n) × \(n) matrix (importer rows)")
            }
            for r in 0..<n { for c in 0..<n {
                let v = m[r][c]
                guard v.isFinite, strict ? v > low : v >= low else {
                    throw FirmsError(key: key, problem: "[\(r + 1)][\(c + 1)] is \(v); must be \(strict ? ">" : "≥") \(low)")
                }
                if let d = diagonal, r == c, v != d {
                    throw FirmsError(key: key, problem: "[\(r + 1)][\(r + 1)] is \(v); the diagonal must be \(d)")
                }
            } }
        }
        try positive(labour, "world.labor")
        guard sigma > 1 && sigma.isFinite else { throw FirmsError(key: "firms.sigma", problem: "is \(sigma); must be > 1") }
        guard distributions.count == n else {
            throw FirmsError(key: "firms.distribution", problem: "has \(distributions.count) entries, expected \(n)")
        }
        for (i, g) in distributions.enumerated() {
            switch g {
            case let .pareto(k, b):
                guard b > 0 && b.isFinite else { throw FirmsError(key: "firms.lower_bound", problem: "entry \(i + 1) is \(b); must be positive") }
                guard k > sigma - 1 && k.isFinite else {
                    throw FirmsError(key: "firms.shape", problem: "k = \(k) must exceed σ − 1 = \(sigma - 1) (otherwise the Pareto moments of φ^(σ−1) are infinite)")
                }
            case let .truncatedPareto(k, b, h):
                guard b > 0 && b.isFinite else { throw FirmsError(key: "firms.lower_bound", problem: "entry \(i + 1) is \(b); must be positive") }
                guard k > 0 && k.isFinite else { throw FirmsError(key: "firms.shape", problem: "is \(k); must be positive") }
                guard h > b && h.isFinite else {
                    throw FirmsError(key: "firms.upper_bound", problem: "entry \(i + 1) is \(h); must exceed the lower bound \(b)")
                }
            case let .lognormal(median, s):
                guard median > 0 && median.isFinite else { throw FirmsError(key: "firms.lower_bound", problem: "entry \(i + 1) is \(median); must be positive") }
                guard s > 0 && s.isFinite else { throw FirmsError(key: "firms.lognormal_sigma", problem: "is \(s); must be positive") }
            }
        }
        try matrix(tradeCosts, "world.trade_costs", atLeast: 1, diagonal: 1)
        try matrix(fixedCosts, "firms.fixed_cost", atLeast: 0)
        for i in 0..<n where !(fixedCosts[i][i] > 0) {
            throw FirmsError(key: "firms.domestic_fixed_cost", problem: "entry \(i + 1) is \(fixedCosts[i][i]); must be positive")
        }
        try matrix(tariffs, "world.tariffs", atLeast: 0, diagonal: 0)
        switch entry {
        case .free: try positive(entryCosts, "firms.entry_cost")
        case let .fixed(mass): try positive(mass, "firms.entry_mass")
        }
        if let beta = differentiatedShare, !(beta > 0 && beta < 1) {
            throw FirmsError(key: "firms.differentiated_share", problem: "the differentiated sector's spending share is \(beta); must be in (0, 1)")
        }
    }
}
