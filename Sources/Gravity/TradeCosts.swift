import Foundation

/// The calibrated parameter vector Θ of HAT-SPEC §5.5 (46 entries for 19 countries), in "gravity units":
/// [log A_1..A_{M−1} (A_M = 1) | θm_1..θm_{M−1} (θm_M = −Σ) | dist_1..dist_6 | border, language, EC, EFTA].
public struct TradeCostParameters: Equatable, Sendable {
    public var logTFP: [Double]
    public var thetaM: [Double]
    public var distance: [Double]
    public var dummies: [Double]

    /// θ = 4 of the author's trade-cost function: only a scaling of the parameter vector.
    public static let theta = 4.0

    public static func count(countries m: Int) -> Int { 2 * (m - 1) + 10 }

    public init(logTFP: [Double], thetaM: [Double], distance: [Double], dummies: [Double]) {
        self.logTFP = logTFP; self.thetaM = thetaM; self.distance = distance; self.dummies = dummies
    }

    /// From the 2(M−1) + 10 vector.
    public init(vector v: [Double], countries m: Int) {
        precondition(v.count == Self.count(countries: m))
        let k = m - 1
        logTFP = Array(v[0..<k]) + [0]
        let tm = Array(v[k..<(2 * k)])
        thetaM = tm + [-tm.reduce(0, +)]
        distance = Array(v[(2 * k)..<(2 * k + 6)])
        dummies = Array(v[(2 * k + 6)..<(2 * k + 10)])
    }

    public var vector: [Double] { Array(logTFP.dropLast()) + Array(thetaM.dropLast()) + distance + dummies }

    /// TFP A_i = exp(log A_i), A_M = 1.
    public var tfp: [Double] { logTFP.map { exp($0) } }

    /// Iceberg costs (HAT-SPEC §5.4), row-major M × M, row = importer:
    /// d_ij = max{1, exp(−(dist_k(i,j) + b·dummies_ij + θm_i)/θ)}, d_ii = 1.
    public func tradeCosts(pairs: [PairRegressors], countries m: Int) -> [Double] {
        var d = [Double](repeating: 1, count: m * m)
        for p in pairs where p.importer != p.exporter {
            var g = distance[p.distanceBin] + thetaM[p.importer]
            for k in 0..<4 { g += dummies[k] * p.dummies[k] }
            d[p.importer * m + p.exporter] = max(1, exp(-g / Self.theta))
        }
        return d
    }

    /// Pairs whose cost is floored at 1.
    public func flooredPairs(pairs: [PairRegressors]) -> [PairRegressors] {
        pairs.filter { p in
            var g = distance[p.distanceBin] + thetaM[p.importer]
            for k in 0..<4 { g += dummies[k] * p.dummies[k] }
            return exp(-g / Self.theta) < 1
        }
    }
}
