import Foundation
import Output
import XCTest

/// The JSON writer and reader: numbers round-trip bitwise; non-finite numbers are left out, never null.
final class JSONTests: XCTestCase {
    func testNumbersRoundTripBitwise() throws {
        let values = [0.19748417658131498, 1.0141938127868286, -4.122612728432357, 1e-300, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
        let text = JSON.object([("v", .numbers(values)), ("s", .string("a\"b\\c\n")), ("i", .integer(-7))]).rendered()
        let back = try JSON.parse(text)
        XCTAssertEqual(back["v"]?.doubles?.map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(back["s"]?.string, "a\"b\\c\n")
        XCTAssertEqual(back["i"]?.double, -7)
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "nul", "1e999", "{\"a\": 1} x"] {
            XCTAssertThrowsError(try JSON.parse(bad), bad)
        }
    }

    func testNonFiniteNumbersAreLeftOut() throws {
        let json = JSON.object([("a", .number(1)), ("b", .number(.nan)), ("c", .numbers([1, .infinity])),
                                ("d", .object([("e", .number(-.infinity)), ("f", .number(2))]))])
        let kept = try XCTUnwrap(json.droppingNonFinite())
        XCTAssertFalse(kept.rendered().contains("null"))
        XCTAssertEqual(kept["a"]?.double, 1)
        XCTAssertNil(kept["b"]); XCTAssertNil(kept["c"])
        XCTAssertEqual(kept["d"]?["f"]?.double, 2)
        XCTAssertNil(kept["d"]?["e"])
    }
}
