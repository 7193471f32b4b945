import Foundation
import TestSupport
import XCTest

/// The composition tests of `EquilibriumTests.CompositionTests` (typed messages across ranks, equilibria
/// nested on sub-communicators, resumed root finders) run in-process on one rank by `swift test`; here the
/// same test bundle runs under `mpirun -np 3`, so that sub-communicators of different sizes (2 + 1 ranks)
/// really exchange messages. Every rank must pass every test.
final class MPICompositionTests: XCTestCase {
    func testCompositionTestsPassOnThreeRanks() throws {
        let bundle = URL(fileURLWithPath: hatBinary).deletingLastPathComponent()
            .appendingPathComponent("hatPackageTests.xctest").path
        guard FileManager.default.isExecutableFile(atPath: bundle) else {
            return XCTFail("test bundle not found next to the hat binary: \(bundle)")
        }
        let r = try runProcess("/usr/bin/mpirun", ["-np", "3", bundle, "EquilibriumTests.CompositionTests"], timeout: 600)
        XCTAssertEqual(r.status, 0, String(r.stdout.suffix(3000)) + String(r.stderr.suffix(2000)))
        // As many tests as the suite has (counted, so that a new composition test does not break this one).
        let count = try String(contentsOfFile: packageRoot.appendingPathComponent("Tests/EquilibriumTests/CompositionTests.swift").path,
                               encoding: .utf8).components(separatedBy: "\n").filter { $0.contains("    func test") }.count
        XCTAssertGreaterThanOrEqual(count, 6)
        let passed = (r.stdout + r.stderr).components(separatedBy: "\n")
            .filter { $0.contains("Executed \(count) tests, with 0 failures") }
        // Each of the 3 ranks prints the suite's and the selection's summary line.
        XCTAssertEqual(passed.count, 6, String(r.stdout.suffix(3000)) + String(r.stderr.suffix(2000)))
    }
}
