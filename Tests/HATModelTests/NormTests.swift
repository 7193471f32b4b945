import Solvers
import XCTest

/// The max norm that residual reports and convergence tests use: a NaN anywhere makes it NaN (an
/// `abs`-then-`max()` over the values keeps or drops a NaN depending on where it stands).
final class NormTests: XCTestCase {
    func testMaxNormPropagatesANaNWhereverItStands() {
        XCTAssertEqual(normInf([1, -3, 2]), 3)
        XCTAssertEqual(normInf([]), 0)
        XCTAssertEqual(normInf([-.infinity, 1]), .infinity)
        for position in 0..<4 {
            var v: [Double] = [0.5, -2, 1e-3, 7]
            v[position] = .nan
            XCTAssertTrue(normInf(v).isNaN, "NaN at \(position) dropped: \(normInf(v))")
        }
    }
}
