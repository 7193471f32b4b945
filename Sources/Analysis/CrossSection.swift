import Foundation
import HATModel

/// The analysed country's cross-section (HAT-SPEC §6.4): per-state quantities and their exact
/// distribution-weighted statistics by expenditure quintile and by income group, plus an optional simulated
/// panel for comparison with the author's simulated figures. Per-state arrays are `[shock][asset]`.
public struct CrossSection: Sendable {
    public var masses: [Double]
    /// Labour income w z_s.
    public var income: [Double]
    /// pc = Σ_j p_j c_j π_j.
    public var expenditure: [Double]
    /// 1 − e_ii / pc.
    public var importShare: [Double]
    public var assets: [Double]
    /// θ̄ of each state (negative), when the elasticities were computed.
    public var elasticity: [Double]?
    /// mpc̄ of each state, when computed.
    public var mpc: [Double]?
    /// A welfare measure per state (the EV in percent, 100(λ − 1)), when given.
    public var welfare: [Double]?

    public init(_ base: AnalysedHousehold, elasticity: [Double]? = nil, mpc: [Double]? = nil, welfare: [Double]? = nil) {
        masses = base.masses
        income = base.stateIncome
        let pc = base.stateExpenditure
        expenditure = pc
        let e = base.expenditure
        importShare = (0..<base.stateCount).map { 1 - e[base.index(variety: base.country, state: $0)] / pc[$0] }
        assets = base.stateAssets
        self.elasticity = elasticity; self.mpc = mpc; self.welfare = welfare
    }

    /// Means of the per-state quantities over a group of states given by non-negative weights.
    public struct GroupMeans: Sendable, Equatable {
        /// The group's population share (exact statistics) or sample share (simulated).
        public var share: Double
        public var importShare: Double
        public var assets: Double
        public var expenditure: Double
        public var income: Double
        public var elasticity: Double?
        public var mpc: Double?
        public var welfare: Double?
    }

    func means(_ weight: [Double]) -> GroupMeans {
        var total = 0.0, all = 0.0
        for (w, m) in zip(weight, masses) { total += w; all += m }
        func mean(_ x: [Double]) -> Double {
            var s = 0.0
            for k in x.indices { s += weight[k] * x[k] }
            return s / total
        }
        return GroupMeans(share: total / all, importShare: mean(importShare), assets: mean(assets),
                          expenditure: mean(expenditure), income: mean(income),
                          elasticity: elasticity.map(mean), mpc: mpc.map(mean), welfare: welfare.map(mean))
    }

    /// Exact expenditure quintiles, poorest first: the states sorted by expenditure (ties by index) fill
    /// five bins of equal population mass; a state straddling a boundary is split between the two bins.
    public func quintiles() -> [GroupMeans] {
        let order = expenditure.indices.sorted { (expenditure[$0], $0) < (expenditure[$1], $1) }
        var total = 0.0
        for m in masses { total += m }
        var weights = [[Double]](repeating: [Double](repeating: 0, count: masses.count), count: 5)
        var below = 0.0
        for k in order {
            let lo = below, hi = below + masses[k]
            for b in 0..<5 {
                let bLo = total * Double(b) / 5, bHi = total * Double(b + 1) / 5
                let overlap = min(hi, bHi) - max(lo, bLo)
                if overlap > 0 { weights[b][k] = overlap }
            }
            below = hi
        }
        return weights.map(means)
    }

    /// The income quantile of the exact distribution: the smallest income value whose cumulative mass
    /// reaches the share p (the population analogue of a sample percentile on the discrete income values).
    public func incomeQuantile(_ p: Double) -> Double {
        var byIncome: [Double: Double] = [:]
        var total = 0.0
        for k in income.indices { byIncome[income[k], default: 0] += masses[k]; total += masses[k] }
        var cumulative = 0.0
        let values = byIncome.keys.sorted()
        for y in values {
            cumulative += byIncome[y]!
            if cumulative >= p * total * (1 - 1e-12) { return y }
        }
        return values.last ?? .nan
    }

    /// The author's income groups with the percentile pair (p1, p2): poor = income below the p1 quantile,
    /// rich = above the p2 quantile, middle = between the 45th and the 55th (inclusive).
    public func incomeGroups(low p1: Double, high p2: Double) -> (poor: GroupMeans, middle: GroupMeans, rich: GroupMeans) {
        let qLow = incomeQuantile(p1), qHigh = incomeQuantile(p2)
        let q45 = incomeQuantile(0.45), q55 = incomeQuantile(0.55)
        func group(_ inGroup: (Double) -> Bool) -> GroupMeans {
            means(income.indices.map { inGroup(income[$0]) ? masses[$0] : 0 })
        }
        return (group { $0 < qLow }, group { $0 >= q45 && $0 <= q55 }, group { $0 > qHigh })
    }
}

// MARK: - Simulated panel

/// A simulated path of the household's Markov chain on (a, s) (HAT-SPEC §6.4): the author's figures use
/// one path of 100,000 draws; Julia's random stream cannot be reproduced, so this uses its own seeded
/// generator (SplitMix64) and gives the same statistics up to Monte-Carlo error.
public struct SimulatedCrossSection: Sendable {
    public var draws: Int
    public var seed: UInt64
    /// The state index of every draw.
    public var states: [Int]

    /// Simulate `draws` periods from a uniformly drawn first state: each period the variety is drawn from
    /// π, the next asset from the lottery of a′ on the grid, the next income state from P.
    public init(_ base: AnalysedHousehold, draws: Int, seed: UInt64) {
        self.draws = draws; self.seed = seed
        var rng = SplitMix64(seed: seed)
        let na = base.assetCount, nS = base.shockCount, nState = base.stateCount
        let grid = base.problem.assets, transition = base.problem.income.transition
        var k = min(Int(rng.uniform() * Double(nState)), nState - 1)
        var out: [Int] = []
        out.reserveCapacity(draws)
        for _ in 0..<draws {
            out.append(k)
            let s = k / na
            var u = rng.uniform(), j = base.varietyCount - 1
            for v in 0..<base.varietyCount {
                u -= base.choiceProbabilities[base.index(variety: v, state: k)]
                if u < 0 { j = v; break }
            }
            let next = base.assetPolicy[base.index(variety: j, state: k)]
            let (low, weight) = lottery(next, grid: grid)
            let aNext = rng.uniform() < weight ? low : min(low + 1, na - 1)
            var w = rng.uniform(), sNext = nS - 1
            for t in 0..<nS {
                w -= transition[s * nS + t]
                if w < 0 { sNext = t; break }
            }
            k = sNext * na + aNext
        }
        states = out
    }

    /// The cross-section's quantities over the simulated draws: equal-count expenditure quintiles (pandas
    /// `qcut`: bins between the sample's type-7 quantiles, right-closed, the first also closed on the left)
    /// and income groups by the sample's type-7 percentiles.
    public func quintiles(_ cs: CrossSection) -> [CrossSection.GroupMeans] {
        let pc = states.map { cs.expenditure[$0] }
        let sorted = pc.sorted()
        let edges = (0...5).map { percentile(sorted, Double($0) / 5) }
        return (0..<5).map { b in
            means(cs) { d in
                let x = pc[d]
                return (b == 0 ? x >= edges[0] : x > edges[b]) && x <= edges[b + 1]
            }
        }
    }

    public func incomeGroups(_ cs: CrossSection, low p1: Double, high p2: Double)
        -> (poor: CrossSection.GroupMeans, middle: CrossSection.GroupMeans, rich: CrossSection.GroupMeans) {
        let y = states.map { cs.income[$0] }
        let sorted = y.sorted()
        let qLow = percentile(sorted, p1), qHigh = percentile(sorted, p2)
        let q45 = percentile(sorted, 0.45), q55 = percentile(sorted, 0.55)
        return (means(cs) { y[$0] < qLow }, means(cs) { !(y[$0] > q55) && !(y[$0] < q45) }, means(cs) { y[$0] > qHigh })
    }

    func means(_ cs: CrossSection, _ member: (Int) -> Bool) -> CrossSection.GroupMeans {
        var counts = [Double](repeating: 0, count: cs.masses.count)
        var n = 0.0
        for d in 0..<states.count where member(d) { counts[states[d]] += 1; n += 1 }
        var g = cs.means(counts)
        g.share = n / Double(states.count)
        return g
    }
}

/// Type-7 (linear interpolation) percentile of sorted values.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let h = Double(sorted.count - 1) * p
    let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
}

/// The lottery of a′ on the grid (HAT-SPEC §2.1 step 6): the lower index l and the weight on it.
func lottery(_ x: Double, grid: [Double]) -> (Int, Double) {
    let n = grid.count
    var h = 0
    while h < n - 1 && grid[h] < x { h += 1 }          // first index with grid[h] >= x
    let l = max(h - 1, 0)
    if h == l { return (l, 1) }
    return (l, 1 - (x - grid[l]) / (grid[h] - grid[l]))
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform on [0, 1) with 53 random bits.
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
}
