import Foundation
import Solvers

/// The static Eaton–Kortum model of HAT-SPEC §5.6 (iv), the fast testbed of the gravity machinery:
/// π_ij = T_j (w_j d_ij)^−θ / Σ_j′ T_j′ (w_j′ d_ij′)^−θ, wages from trade balance w_i L_i = Σ_n π_ni w_n L_n.
public enum StaticEatonKortum {
    /// Trade shares, row-major (row = importer).
    public static func tradeShares(technology T: [Double], wages w: [Double], tradeCosts d: [Double], theta: Double) -> [Double] {
        let m = T.count
        var pi = [Double](repeating: 0, count: m * m)
        for i in 0..<m {
            var total = 0.0
            for j in 0..<m {
                let v = T[j] * pow(w[j] * d[i * m + j], -theta)
                pi[i * m + j] = v
                total += v
            }
            for j in 0..<m { pi[i * m + j] /= total }
        }
        return pi
    }

    /// Wages clearing trade balance with w_M = 1 (unknowns log w_1..w_{M−1}, hybrid root finder).
    public static func wages(technology T: [Double], tradeCosts d: [Double], labor L: [Double], theta: Double,
                             tolerance: Double = 1e-14) -> (wages: [Double], result: RootFindingResult) {
        let m = T.count
        func wagesFrom(_ x: [Double]) -> [Double] { x.map { exp($0) } + [1] }
        let finder = HybridRootFinder(tolerance: tolerance, maxIterations: 500)
        // The residual cannot throw: `try!` only restates that.
        let result = try! finder.solve(from: [Double](repeating: 0, count: m - 1)) { x in
            let w = wagesFrom(x)
            let pi = tradeShares(technology: T, wages: w, tradeCosts: d, theta: theta)
            return (0..<(m - 1)).map { i in
                var sales = 0.0
                for n in 0..<m { sales += pi[n * m + i] * w[n] * L[n] }
                return w[i] * L[i] - sales
            }
        }
        return (wagesFrom(result.x), result)
    }
}
