import COpenBLAS
import Foundation

/// A finite Markov chain: `transition[s * count + t]` = P(s → t) (row-major, rows sum to one).
public struct MarkovChain: Sendable {
    public let count: Int
    public let grid: [Double]
    public let transition: [Double]

    public func probability(from s: Int, to t: Int) -> Double { transition[s * count + t] }
}

/// Rouwenhorst (1995) discretisation of y' = μ + ρ y + σ ε (HAT-SPEC §1.3): `n` equally spaced
/// points on [m − √(n−1) σ_y, m + √(n−1) σ_y], σ_y = σ/√(1−ρ²), m = μ/(1−ρ); p = q = (1+ρ)/2.
public func rouwenhorst(states n: Int, rho: Double, sigma: Double, mu: Double = 0) -> MarkovChain {
    precondition(n >= 1)
    if n == 1 { return MarkovChain(count: 1, grid: [mu / (1 - rho)], transition: [1]) }
    let p = (1 + rho) / 2, q = p
    var theta: [[Double]] = [[p, 1 - p], [1 - q, q]]
    if n > 2 {
        for size in 3...n {
            var next = [[Double]](repeating: [Double](repeating: 0, count: size), count: size)
            for i in 0..<(size - 1) {
                for j in 0..<(size - 1) {
                    let t = theta[i][j]
                    next[i][j] += p * t
                    next[i][j + 1] += (1 - p) * t
                    next[i + 1][j] += (1 - q) * t
                    next[i + 1][j + 1] += q * t
                }
            }
            for i in 1..<(size - 1) { for j in 0..<size { next[i][j] /= 2 } }
            theta = next
        }
    }
    let sigmaY = sigma / (1 - rho * rho).squareRoot()
    let halfWidth = Double(n - 1).squareRoot() * sigmaY
    let centre = mu / (1 - rho)
    let grid = (0..<n).map { centre - halfWidth + 2 * halfWidth * Double($0) / Double(n - 1) }
    return MarkovChain(count: n, grid: grid, transition: theta.flatMap { $0 })
}

/// Stationary distribution of a chain: solves π(P − I) = 0, Σπ = 1 with LAPACK (dgesv).
public func stationaryDistribution(of chain: MarkovChain) -> [Double] {
    let n = chain.count
    if n == 1 { return [1] }
    // Row-major A = (P − I)ᵀ with the last equation replaced by Σπ = 1.
    var a = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { a[i * n + j] = chain.probability(from: j, to: i) - (i == j ? 1 : 0) } }
    for j in 0..<n { a[(n - 1) * n + j] = 1 }
    var b = [Double](repeating: 0, count: n)
    b[n - 1] = 1
    var pivots = [Int32](repeating: 0, count: n)
    let info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, Int32(n), 1, &a, Int32(n), &pivots, &b, 1)
    precondition(info == 0, "stationary distribution: singular system (info \(info))")
    return b
}

/// The household income process of HAT-SPEC §1.3: a persistent Rouwenhorst AR(1) (outer index) times an
/// iid Rouwenhorst component (inner index), normalised so that mean efficiency units are one.
public struct IncomeProcess: Sendable {
    public struct Parameters: Equatable, Sendable {
        public var persistentStates: Int
        public var transitoryStates: Int
        public var rho: Double
        public var sigmaPersistent: Double
        public var sigmaTransitory: Double

        /// The values the author's code uses (never overridden by any of its drivers).
        public static let baseline = Parameters(persistentStates: 5, transitoryStates: 2, rho: 0.90,
                                                sigmaPersistent: 0.039.squareRoot(),
                                                sigmaTransitory: 0.0522.squareRoot())

        public init(persistentStates: Int, transitoryStates: Int, rho: Double, sigmaPersistent: Double,
                    sigmaTransitory: Double) {
            self.persistentStates = persistentStates
            self.transitoryStates = transitoryStates
            self.rho = rho
            self.sigmaPersistent = sigmaPersistent
            self.sigmaTransitory = sigmaTransitory
        }
    }

    public let parameters: Parameters
    /// Number of states S = persistent × transitory.
    public let count: Int
    /// log z_s, normalised so that Σ π*_s z_s = 1.
    public private(set) var logZ: [Double]
    /// z_s = exp(log z_s).
    public private(set) var z: [Double]
    /// Row-major S × S transition matrix P (Kronecker product, rows re-normalised).
    public let transition: [Double]
    /// Stationary distribution π* of P.
    public let stationary: [Double]
    /// ℓ_s: the raw log grid value of the persistent component (before normalisation), used by the
    /// quality shifter ψ (HAT-SPEC §1.2).
    public let logPersistent: [Double]

    public init(_ parameters: Parameters) {
        self.parameters = parameters
        let nP = parameters.persistentStates, nI = parameters.transitoryStates
        precondition(nP >= 1 && nI >= 1)
        let persistent = rouwenhorst(states: nP, rho: parameters.rho, sigma: parameters.sigmaPersistent)
        let transitory = nI > 1 ? rouwenhorst(states: nI, rho: 0, sigma: parameters.sigmaTransitory)
                                : MarkovChain(count: 1, grid: [0], transition: [1])
        let n = nP * nI
        var levels = [Double](repeating: 0, count: n)
        var ell = [Double](repeating: 0, count: n)
        var p = [Double](repeating: 0, count: n * n)
        for i in 0..<nP {
            for j in 0..<nI {
                let k = i * nI + j
                levels[k] = exp(persistent.grid[i]) * exp(transitory.grid[j])
                ell[k] = persistent.grid[i]
                for i2 in 0..<nP {
                    for j2 in 0..<nI {
                        p[k * n + i2 * nI + j2] = persistent.probability(from: i, to: i2)
                            * transitory.probability(from: j, to: j2)
                    }
                }
            }
        }
        for k in 0..<n {
            var rowSum = 0.0
            for t in 0..<n { rowSum += p[k * n + t] }
            for t in 0..<n { p[k * n + t] /= rowSum }
        }
        let chain = MarkovChain(count: n, grid: levels, transition: p)
        let pi = stationaryDistribution(of: chain)
        var mean = 0.0
        for k in 0..<n { mean += pi[k] * levels[k] }
        self.count = n
        self.transition = p
        self.stationary = pi
        self.logPersistent = ell
        self.z = levels.map { $0 / mean }
        self.logZ = self.z.map { log($0) }
    }

    /// The same chain (transition, ψ grid) with other efficiency levels z_s, for experiments such as a
    /// transfer expressed as extra income (τ ≡ z + τ/(λ w)).
    public func withLevels(_ levels: [Double]) -> IncomeProcess {
        precondition(levels.count == count && levels.allSatisfy { $0 > 0 })
        var copy = self
        copy.z = levels
        copy.logZ = levels.map { log($0) }
        return copy
    }

    /// Mean efficiency units under the stationary distribution (one by construction).
    public var meanZ: Double { zip(stationary, z).reduce(0) { $0 + $1.0 * $1.1 } }
}
