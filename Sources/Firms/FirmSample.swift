import Foundation

/// Simulated firm-level data from a solved firm world (docs/FIRMS.md, "Firm-level data"). Each country's
/// entrants are drawn from its G_i; the active ones (serving some market) give one row per destination they
/// serve. Every draw comes from a counter-based generator keyed by (seed, origin, entrant, stream), so any
/// split of the entrants over ranks or chunks gives the same rows.
///
/// The predictors' data-generating process, for the estimation that uses them:
/// * `signal_productivity` = ln φ + 0.5 ε₁, a noisy signal of the firm's productivity;
/// * `signal_fixed_cost` = f_ni exp(0.5 ε₂), a noisy signal of the pair's market fixed cost (one ε₂ per row;
///   its log is ln f_ni + 0.5 ε₂ where f_ni > 0);
/// * `noise_1`, `noise_2`: pure noise, N(0, 1), unrelated to anything;
/// with ε₁, ε₂ standard normal and independent of everything else.
public struct FirmSample: Sendable {
    public let solution: MelitzSolution
    public let seed: UInt64
    /// Entrant draws per origin (proportional to the entry masses, at least one each).
    public let draws: [Int]
    /// The mass of real entrants one draw stands for: M_E,i / draws_i.
    public let weight: [Double]
    /// σ a_ni, importer-major: a firm φ's producer sales in n are this times φ^(σ−1).
    let salesScale: [Double]
    /// The first global firm id of each origin.
    let firstID: [Int]

    public static let columns = ["firm_id", "origin", "destination", "productivity", "sales",
                                 "signal_productivity", "signal_fixed_cost", "noise_1", "noise_2"]

    public init(solution: MelitzSolution, firms: Int, seed: UInt64) {
        self.solution = solution
        self.seed = seed
        let mass = solution.entryMass, total = mass.reduce(0, +)
        let draws = mass.map { max(1, Int((Double(firms) * $0 / total).rounded())) }
        self.draws = draws
        weight = zip(mass, draws).map { $0 / Double($1) }
        let n = solution.count
        salesScale = (0..<(n * n)).map { solution.world.sigma * solution.variableProfitShifter(importer: $0 / n, exporter: $0 % n) }
        firstID = draws.indices.map { draws[0..<$0].reduce(0, +) }
    }

    /// The global id of entrant j of origin i (origins in order).
    public func firmID(origin i: Int, entrant j: Int) -> Int { firstID[i] + j }

    /// A uniform in (0, 1) for (origin, entrant, stream): SplitMix64's finaliser of the combined key.
    public func uniform(origin: Int, entrant: Int, stream: Int) -> Double {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(origin &+ 1)
        z = z &+ 0xBF58_476D_1CE4_E5B9 &* UInt64(entrant &+ 1)
        z = z &+ 0x94D0_49BB_1331_11EB &* UInt64(stream &+ 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) * 0x1p-53
    }

    /// A standard normal for (origin, entrant, stream) by Box–Muller on two uniforms.
    public func normal(origin: Int, entrant: Int, stream: Int) -> Double {
        let u1 = uniform(origin: origin, entrant: entrant, stream: 2 * stream + 100)
        let u2 = uniform(origin: origin, entrant: entrant, stream: 2 * stream + 101)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    public func productivity(origin i: Int, entrant j: Int) -> Double {
        solution.world.distributions[i].quantile(uniform(origin: i, entrant: j, stream: 0))
    }

    /// Appends entrant j of origin i's rows (one per destination served, destinations in order) to `out`, in
    /// `columns` order; returns how many.
    @discardableResult
    public func rows(origin i: Int, entrant j: Int, into out: inout [Double]) -> Int {
        let phi = productivity(origin: i, entrant: j)
        let n = solution.count, p = solution.world.sigma - 1
        // Inactive entrants (most of them) have no rows: no predictor draws for them.
        guard (0..<n).contains(where: { phi >= solution.cutoffs[$0][i] }) else { return 0 }
        let id = Double(firmID(origin: i, entrant: j))
        let signal = log(phi) + 0.5 * normal(origin: i, entrant: j, stream: 0)
        let noise1 = normal(origin: i, entrant: j, stream: 1), noise2 = normal(origin: i, entrant: j, stream: 2)
        var count = 0
        let scale = pow(phi, p)
        for dest in 0..<n where phi >= solution.cutoffs[dest][i] {
            // Producer sales σ a_ni φ^(σ−1) (the marginal seller's variable profit a_ni φ*^(σ−1) is w_i f_ni).
            let f = solution.world.fixedCosts[dest][i]
            let sales = salesScale[dest * n + i] * scale
            let fixedSignal = f * exp(0.5 * normal(origin: i, entrant: j, stream: 3 + dest))
            out.append(id); out.append(Double(i)); out.append(Double(dest)); out.append(phi); out.append(sales)
            out.append(signal); out.append(fixedSignal); out.append(noise1); out.append(noise2)
            count += 1
        }
        return count
    }

    /// How many rows entrant j of origin i has (the destinations it serves), without making them.
    public func rowCount(origin i: Int, entrant j: Int) -> Int {
        let phi = productivity(origin: i, entrant: j)
        return (0..<solution.count).reduce(0) { $0 + (phi >= solution.cutoffs[$1][i] ? 1 : 0) }
    }
}

extension MelitzSolution {
    /// a_ni = B_n (1 + t_ni)^(−σ) (τ_ni w_i)^(1−σ): firm φ's variable profit in n is a_ni φ^(σ−1).
    public func variableProfitShifter(importer n: Int, exporter i: Int) -> Double {
        let sigma = world.sigma
        return demandShifters[n] * pow(1 + world.tariffs[n][i], -sigma) * pow(world.tradeCosts[n][i] * wages[i], 1 - sigma)
    }
}
