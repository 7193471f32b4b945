import HATModel
import XCTest

final class IncomeProcessTests: XCTestCase {
    /// HAT-SPEC §1.3 reference values (printed in the author's two-country notebook).
    let referenceLogZ = [-1.2622344170981827, -0.8052880307463484, -0.8091746441159229, -0.35222825776408845,
                         -0.356114871133663, 0.10083151521817137, 0.09694490184859696, 0.5538912882004313,
                         0.5500046748308567, 1.0069510611826913]

    func testBaselineLogGridMatchesReference() {
        let income = IncomeProcess(.baseline)
        XCTAssertEqual(income.count, 10)
        for (mine, ref) in zip(income.logZ, referenceLogZ) {
            XCTAssertEqual(mine, ref, accuracy: 1e-14)
        }
    }

    func testTransitionRowsSumToOneAndMeanIsOne() {
        let income = IncomeProcess(.baseline)
        for s in 0..<income.count {
            let row = income.transition[(s * income.count)..<((s + 1) * income.count)]
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-15)
            XCTAssertTrue(row.allSatisfy { $0 >= 0 })
        }
        XCTAssertEqual(income.meanZ, 1, accuracy: 1e-15)
        XCTAssertEqual(income.stationary.reduce(0, +), 1, accuracy: 1e-15)
    }

    func testStationaryDistributionIsInvariant() {
        let income = IncomeProcess(.baseline)
        let n = income.count
        for t in 0..<n {
            var mass = 0.0
            for s in 0..<n { mass += income.stationary[s] * income.transition[s * n + t] }
            XCTAssertEqual(mass, income.stationary[t], accuracy: 1e-15)
        }
    }

    func testPersistentLogGridUsedByQualityShifter() {
        let ell = IncomeProcess(.baseline).logPersistent
        let expected = [-0.906120, -0.906120, -0.453060, -0.453060, 0, 0, 0.453060, 0.453060, 0.906120, 0.906120]
        for (a, b) in zip(ell, expected) { XCTAssertEqual(a, b, accuracy: 5e-7) }
    }

    func testRouwenhorstTwoStateIidComponent() {
        let chain = rouwenhorst(states: 2, rho: 0, sigma: 0.3)
        XCTAssertEqual(chain.grid[0], -0.3, accuracy: 1e-15)
        XCTAssertEqual(chain.grid[1], 0.3, accuracy: 1e-15)
        XCTAssertTrue(chain.transition.allSatisfy { $0 == 0.5 })
    }
}
