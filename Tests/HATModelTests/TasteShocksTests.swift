import Foundation
import HATModel
import XCTest

/// `TasteShocks` against a naive log-sum-exp σ log Σ_j exp(x_j/σ) in 80-bit extended precision, whose range
/// (exp up to e^11356) covers scores whose naive sum overflows or underflows a double.
final class TasteShocksTests: XCTestCase {
    func naiveInclusive(_ x: [Double], sigma: Double) -> Float80 {
        let s = Float80(sigma)
        return s * Foundation.log(x.reduce(Float80(0)) { $0 + Foundation.exp(Float80($1) / s) })
    }

    func naiveProbabilities(_ x: [Double], sigma: Double) -> [Float80] {
        let s = Float80(sigma)
        let e = x.map { Foundation.exp(Float80($0) / s) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    /// Score sets: moderate; large (x/σ ≈ 3000: the naive sum in doubles is +inf); tiny (x/σ ≈ −4000: it
    /// is 0); a dominant variety whose rivals' weights underflow; a tiny σ; ties.
    let cases: [(x: [Double], sigma: Double)] = [
        ([0.3, -1.2, 0.9, 0.05], 0.3),
        ([750, 751.5, 749.2], 0.25),
        ([-1000, -998.7, -1001.3, -999.9], 0.25),
        ([2, -400, -500], 0.5),
        ([1.25, 1.2, 1.3], 1e-3),
        ([-7.5, -7.5, -7.5], 0.33),
        ([4.0], 0.2),
    ]

    func testScalarLaneAgainstNaiveLogSumExp() {
        for (x, sigma) in cases {
            let naiveDouble = sigma * log(x.reduce(0) { $0 + exp($1 / sigma) })
            let phi = TasteShocks.inclusiveValue(varieties: x.count, sigma: sigma) { x[$0] }
            let ref = naiveInclusive(x, sigma: sigma)
            XCTAssertTrue(phi.isFinite, "\(x)")
            XCTAssertEqual(phi, Double(ref), accuracy: 4 * Double(ref).ulp + 1e-16, "\(x), sigma \(sigma)")
            let pi = TasteShocks.probabilities(varieties: x.count, sigma: sigma) { x[$0] }
            for (p, r) in zip(pi, naiveProbabilities(x, sigma: sigma)) {
                XCTAssertEqual(p, Double(r), accuracy: 1e-15, "\(x), sigma \(sigma)")
            }
            XCTAssertEqual(pi.reduce(0, +), 1, accuracy: 4e-16 * Double(x.count))
            if x.contains(where: { $0 / sigma > 710 }) || x.allSatisfy({ $0 / sigma < -746 }) {
                XCTAssertFalse(naiveDouble.isFinite, "the naive sum in doubles should fail here: \(x)")
            }
        }
    }

    /// The kernel's lane: eight states at once (each lane one case, the rest padding), to a few ulps of the
    /// reference; a lane's result does not depend on the other lanes.
    func testVectorLaneAgainstNaiveLogSumExp() {
        let width = cases.map(\.x.count).max()!
        for (x, sigma) in cases {
            let scale = TasteShockScale(sigma: sigma)
            // Lane 3 holds the case; the other lanes hold unrelated scores (0 and ±300 alternating).
            func score(_ j: Int) -> Vec {
                var v = Vec((0..<8).map { Double(($0 + j) % 3 - 1) * 300 })
                v[3] = j < x.count ? x[j] : -.infinity
                return v
            }
            var weights = [Vec](repeating: .zero, count: width)
            let (top, sum) = TasteShocks.weights(varieties: width, scale: scale, score: score) { weights[$0] = $1 }
            let phi = Vec.inclusiveValue(top: top, sum: sum, scale: scale)[3]
            let ref = Double(naiveInclusive(x, sigma: sigma))
            XCTAssertEqual(phi, ref, accuracy: 8 * ref.ulp + 1e-16, "\(x), sigma \(sigma)")
            for (j, r) in naiveProbabilities(x, sigma: sigma).enumerated() {
                XCTAssertEqual(weights[j][3] / sum[3], Double(r), accuracy: 1e-14, "\(x), sigma \(sigma)")
            }
            // The same case alone in every lane gives the same bits in lane 3.
            let (topAlone, sumAlone) = TasteShocks.weights(varieties: width, scale: scale) { j in
                Vec(repeating: j < x.count ? x[j] : -.infinity)
            }
            XCTAssertEqual(Vec.inclusiveValue(top: topAlone, sum: sumAlone, scale: scale)[3].bitPattern,
                           phi.bitPattern)
        }
    }

    /// The running maximum decides as Swift.max does, so a NaN score after a finite one is passed over by
    /// both lanes alike, and the weights start from the largest score: exp(0) = 1 exactly at the top.
    func testMaximumAndTopWeight() {
        let x = [1.5, .nan, 2.5, 0.5]
        let scalar = TasteShocks.weights(varieties: 4, scale: TasteShockScale(sigma: 0.4)) { x[$0] }
        XCTAssertEqual(scalar.top, 2.5)
        let vector = TasteShocks.weights(varieties: 4, scale: TasteShockScale(sigma: 0.4)) { Vec(repeating: x[$0]) }
        XCTAssertEqual(vector.top, Vec(repeating: 2.5))
        var top = [Double](repeating: 0, count: 4)
        _ = TasteShocks.weights(varieties: 4, scale: TasteShockScale(sigma: 0.4), score: { [1.5, 2.5, 0.5, -1][$0] }) {
            top[$0] = $1
        }
        XCTAssertEqual(top[1], 1)
    }
}
