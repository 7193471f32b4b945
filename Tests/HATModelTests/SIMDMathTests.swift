import Foundation
import HATModel
import XCTest

/// The kernel's vector exp/log agree with glibc to a few ulps over the ranges the kernels use.
final class SIMDMathTests: XCTestCase {
    func ulps(_ a: Double, _ b: Double) -> Double { abs(a - b) / b.ulp }

    func testExpAgreesWithGlibc() {
        var worst = 0.0
        var x = -700.0
        while x < 700 {
            let v = vexp(Vec(repeating: x))
            worst = max(worst, ulps(v[0], Foundation.exp(x)))
            x += 0.0137
        }
        for x in stride(from: -1.0, to: 1.0, by: 1e-4) { worst = max(worst, ulps(vexp(Vec(repeating: x))[3], Foundation.exp(x))) }
        XCTAssertLessThanOrEqual(worst, 4)
        XCTAssertEqual(vexp(Vec(repeating: -800))[0], 0)
        XCTAssertEqual(vexp(Vec(repeating: 800))[0], .infinity)
        XCTAssertTrue(vexp(Vec(repeating: .nan))[0].isNaN)
    }

    /// Distinct values in every lane: a kernel that mixed or dropped lanes would fail here.
    func testEveryLaneIsItsOwn() {
        var x = Vec(repeating: 0)
        for lane in 0..<Vec.scalarCount { x[lane] = 0.3 + 0.71 * Double(lane) }
        let e = vexp(x), l = vlog(x)
        for lane in 0..<Vec.scalarCount {
            XCTAssertLessThanOrEqual(ulps(e[lane], Foundation.exp(x[lane])), 4, "lane \(lane)")
            XCTAssertLessThanOrEqual(abs(l[lane] - Foundation.log(x[lane])), 4 * Foundation.log(x[lane]).magnitude.ulp, "lane \(lane)")
        }
    }

    /// The whole-array passes, including a tail shorter than one vector.
    func testArrayPassesCoverTheTail() {
        for n in [1, 7, 8, 13, 29] {
            let values = (0..<n).map { 0.1 + 0.37 * Double($0) }
            let p = UnsafeMutablePointer<Double>.allocate(capacity: n)
            defer { p.deallocate() }
            p.initialize(from: values, count: n)
            VectorMath.exp(p, count: n)
            for k in 0..<n { XCTAssertLessThanOrEqual(ulps(p[k], Foundation.exp(values[k])), 4, "n \(n), k \(k)") }
            p.initialize(from: values, count: n)
            VectorMath.log(p, count: n)
            for k in 0..<n { XCTAssertEqual(p[k], Foundation.log(values[k]), accuracy: 4 * abs(Foundation.log(values[k])).ulp + 1e-300) }
        }
    }

    func testLogAgreesWithGlibc() {
        var worst = 0.0
        var x = 1e-300
        while x < 1e300 {
            worst = max(worst, ulps(vlog(Vec(repeating: x))[5], Foundation.log(x)))
            x *= 1.0371
        }
        for x in stride(from: 0.5, to: 2.0, by: 1e-4) {
            let l = Foundation.log(x)
            if l != 0 { worst = max(worst, abs(vlog(Vec(repeating: x))[0] - l) / max(abs(l), 1e-300).ulp) }
        }
        XCTAssertLessThanOrEqual(worst, 4)
        XCTAssertEqual(vlog(Vec(repeating: 1))[0], 0)
        XCTAssertTrue(vlog(Vec(repeating: -1))[0].isNaN)
        XCTAssertTrue(vlog(Vec(repeating: 0))[0].isNaN)
    }
}
