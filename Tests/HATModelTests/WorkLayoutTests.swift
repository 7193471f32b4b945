import Parallel
import XCTest

/// The grid-block layout: every (country, income state) row computed by exactly one rank, groups contiguous,
/// leads in country order, loads balanced by cost.
final class WorkLayoutTests: XCTestCase {
    func check(_ layout: WorkLayout, file: StaticString = #filePath, line: UInt = #line) {
        var seen = [[Int]](repeating: [Int](repeating: 0, count: layout.shocks), count: layout.countries)
        for rank in 0..<layout.ranks {
            var last = -1
            for piece in layout.pieces[rank] {
                XCTAssertGreaterThan(piece.country, last, "pieces in country order", file: file, line: line)
                last = piece.country
                XCTAssertFalse(piece.shocks.isEmpty, file: file, line: line)
                for s in piece.shocks { seen[piece.country][s] += 1 }
            }
        }
        XCTAssertTrue(seen.allSatisfy { $0.allSatisfy { $0 == 1 } }, "every row exactly once: \(seen)", file: file, line: line)
        // Leads: contiguous ranges that, in rank order, give the countries in order.
        let led = (0..<layout.ranks).flatMap { Array(layout.led(by: $0)) }
        XCTAssertEqual(led, Array(0..<layout.countries), file: file, line: line)
        for i in 0..<layout.countries {
            let group = layout.group(of: i)
            for r in group { XCTAssertTrue(layout.pieces[r].contains { $0.country == i }, "group contiguous", file: file, line: line) }
        }
    }

    func testBlocksCoverEveryRowAndBalanceEqualCosts() {
        for (m, s, p) in [(2, 50, 4), (2, 10, 6), (19, 10, 3), (19, 10, 2), (3, 2, 7), (1, 10, 3), (5, 1, 2)] {
            let layout = WorkLayout.blocks(costs: [Double](repeating: 1, count: m), shocks: s, ranks: p)
            check(layout)
            let rows = layout.pieces.map { $0.reduce(0) { $0 + $1.shocks.count } }
            if m * s >= p {
                XCTAssertLessThanOrEqual(rows.max()! - rows.min()!, 1, "\(m)x\(s) on \(p): \(rows)")
            }
        }
        let six = WorkLayout.blocks(costs: [1, 1], shocks: 10, ranks: 6)
        XCTAssertEqual(six.group(of: 0), 0..<3)
        XCTAssertEqual(six.group(of: 1), 3..<6)
    }

    func testCostsMoveTheCuts() {
        // Country 0 three times as expensive: it gets three of the four ranks.
        let layout = WorkLayout.blocks(costs: [3, 1], shocks: 12, ranks: 4)
        check(layout)
        XCTAssertEqual(layout.group(of: 0), 0..<3)
        XCTAssertEqual(layout.imbalance(costs: [3, 1]), 0, accuracy: 1e-12)
        // Whole countries: the bottleneck packing beats equal counts.
        let costs: [Double] = [5, 1, 1, 1, 1, 1]
        let packed = WorkLayout.countries(costs: costs, shocks: 4, ranks: 2)
        check(packed)
        XCTAssertEqual(packed.pieces[0].map(\.country), [0])
        XCTAssertEqual(packed.imbalance(costs: costs), 0, accuracy: 1e-12)
        XCTAssertFalse(packed.hasBlocks)
        // More ranks than countries without blocks: the rest idle, and say so.
        let idle = WorkLayout.countries(costs: [1, 1], shocks: 4, ranks: 3)
        check(idle)
        XCTAssertTrue(idle.description(names: ["A", "B"]).contains("rank 2: idle"))
    }
}
