import Foundation

/// The regressors of one directed pair (importer i buys from exporter j), 0-based country indices.
public struct PairRegressors: Equatable, Sendable {
    public var importer: Int
    public var exporter: Int
    /// Distance bin 0…5: [0,375), [375,750), [750,1500), [1500,3000), [3000,6000), [6000,max] miles.
    public var distanceBin: Int
    /// Border, shared language, European Community, EFTA dummies (this order everywhere).
    public var dummies: [Double]

    public init(importer: Int, exporter: Int, distanceBin: Int, dummies: [Double]) {
        self.importer = importer; self.exporter = exporter; self.distanceBin = distanceBin; self.dummies = dummies
    }
}

/// The Eaton–Kortum (2002) 19-country data of HAT-SPEC §5.1, validated.
public struct EKData: Sendable {
    /// ISO codes in Eaton–Kortum order (from countries.csv; "1"…"M" if that file is absent).
    public let countries: [String]
    /// Labour force relative to the last country.
    public let labor: [Double]
    /// The M(M−1) off-diagonal observations log(X_ij/X_ii), importer-major, aligned with `pairs`.
    public let logTradeRatios: [Double]
    /// Regressors of the off-diagonal observations (ek-data.csv + ek-language.csv).
    public let pairs: [PairRegressors]
    public var count: Int { countries.count }

    public static let binColumns = ["bin375", "bin750", "bin1500", "bin3000", "bin6000", "binmax"]
    static let dataColumns = ["trade", "distance", "border"] + binColumns + ["distbin", "importer", "exporter"]
    static let languageColumns = ["sharedlanguage", "europeancom", "efta"]
    static let fixColumns = ["distance", "border"] + binColumns + ["distbin", "importer", "exporter"] + languageColumns

    /// Load and validate ek-labor.csv, ek-data.csv, ek-language.csv, ek-cntryfix.csv (and countries.csv if
    /// present) from `directory`.
    public static func load(directory: String) throws -> EKData {
        let dir = URL(fileURLWithPath: directory)
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) else {
            throw DataError(file: directory, problem: "data folder does not exist")
        }
        guard isDir.boolValue else { throw DataError(file: directory, problem: "is a file, not a data folder") }

        // Labour: one column L, one row per country.
        let laborTable = try CSVTable(path: path("ek-labor.csv"), expected: ["L"])
        let m = laborTable.rows.count
        guard m >= 2 else { throw DataError(file: laborTable.path, problem: "needs at least two countries, has \(m)") }
        let labor = try laborTable.rows.enumerated().map { r, row -> Double in
            guard row[0] > 0 else { throw DataError(file: laborTable.path, row: r + 2, column: "L", problem: "\(row[0]) must be > 0") }
            return row[0]
        }
        let countries = try loadCountryNames(path("countries.csv"), count: m)

        // Bilateral data: M × M rows, importer-major, diagonal trade exactly 0.
        let data = try CSVTable(path: path("ek-data.csv"), expected: dataColumns)
        let all = try pairTable(data, countries: m, includeDiagonal: true)
        let tradeColumn = data.index(of: "trade")
        var logRatios: [Double] = [], pairs: [PairRegressors] = []
        for (r, pair) in all.enumerated() {
            let y = data.rows[r][tradeColumn]
            if pair.importer == pair.exporter {
                guard y == 0 else { throw DataError(file: data.path, row: r + 2, column: "trade", problem: "diagonal entry must be 0 (log X_ii/X_ii), found \(y)") }
            } else {
                guard y != 0 else { throw DataError(file: data.path, row: r + 2, column: "trade", problem: "off-diagonal entry is 0 (a zero trade flow has no log)") }
                logRatios.append(y)
                pairs.append(pair)
            }
        }

        // Language dummies, aligned with the off-diagonal rows of ek-data.csv.
        let language = try CSVTable(path: path("ek-language.csv"), expected: languageColumns, rowCount: pairs.count)
        for r in 0..<pairs.count {
            pairs[r].dummies += try languageColumns.map { try language.dummy(r, $0) }
        }

        // ek-cntryfix.csv repeats the off-diagonal regressors (the author uses it for model data and trade
        // costs): it must agree with ek-data.csv + ek-language.csv.
        let fix = try CSVTable(path: path("ek-cntryfix.csv"), expected: fixColumns, rowCount: pairs.count)
        let fixPairs = try pairTable(fix, countries: m, includeDiagonal: false)
        for (r, p) in fixPairs.enumerated() {
            var full = p
            full.dummies += try languageColumns.map { try fix.dummy(r, $0) }
            let d = pairs[r]
            if full.distanceBin != d.distanceBin {
                throw DataError(file: fix.path, row: r + 2, column: "distbin", problem: "disagrees with ek-data.csv for importer \(p.importer + 1), exporter \(p.exporter + 1)")
            }
            for (k, name) in (["border"] + languageColumns).enumerated() where full.dummies[k] != d.dummies[k] {
                throw DataError(file: fix.path, row: r + 2, column: name, problem: "disagrees with ek-data.csv/ek-language.csv for importer \(p.importer + 1), exporter \(p.exporter + 1)")
            }
        }
        return EKData(countries: countries, labor: labor, logTradeRatios: logRatios, pairs: pairs)
    }

    /// Parse the pair columns of a table whose rows must list every directed pair once, importer-major.
    static func pairTable(_ t: CSVTable, countries m: Int, includeDiagonal: Bool) throws -> [PairRegressors] {
        var seen: [Int: Int] = [:]
        var out: [PairRegressors] = []
        for r in 0..<t.rows.count {
            let i = try t.integer(r, "importer", in: 1...m) - 1
            let j = try t.integer(r, "exporter", in: 1...m) - 1
            if !includeDiagonal && i == j {
                throw DataError(file: t.path, row: r + 2, column: "exporter", problem: "diagonal pair (\(i + 1), \(j + 1)) not allowed here")
            }
            if let first = seen[i * m + j] {
                throw DataError(file: t.path, row: r + 2, column: "exporter", problem: "duplicated pair (importer \(i + 1), exporter \(j + 1)), first on row \(first)")
            }
            seen[i * m + j] = r + 2
            // Exactly one distance bin is active and distbin names it.
            let bins = try binColumns.map { try t.dummy(r, $0) }
            guard bins.reduce(0, +) == 1, let active = bins.firstIndex(of: 1) else {
                throw DataError(file: t.path, row: r + 2, column: "bin375", problem: "exactly one distance-bin dummy must be 1")
            }
            let distbin = try t.integer(r, "distbin", in: 1...6)
            guard distbin == active + 1 else {
                throw DataError(file: t.path, row: r + 2, column: "distbin", problem: "\(distbin) disagrees with the active bin \(binColumns[active])")
            }
            out.append(PairRegressors(importer: i, exporter: j, distanceBin: active, dummies: [try t.dummy(r, "border")]))
        }
        // Every pair present, in importer-major order (files are aligned by row).
        var expected: [(Int, Int)] = []
        for i in 0..<m { for j in 0..<m where includeDiagonal || i != j { expected.append((i, j)) } }
        for (r, (i, j)) in expected.enumerated() {
            guard seen[i * m + j] != nil else {
                throw DataError(file: t.path, row: r + 2, column: "importer", problem: "missing pair (importer \(i + 1), exporter \(j + 1))")
            }
            guard out[r].importer == i && out[r].exporter == j else {
                throw DataError(file: t.path, row: r + 2, column: "importer", problem: "rows must be importer-major: expected (importer \(i + 1), exporter \(j + 1))")
            }
        }
        if out.count != expected.count {
            throw DataError(file: t.path, problem: "has \(out.count) data rows, expected \(expected.count)")
        }
        return out
    }

    /// countries.csv (index, iso3, name), optional.
    static func loadCountryNames(_ path: String, count m: Int) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { return (1...m).map { "\($0)" } }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, problem: "cannot read the file")
        }
        let lines = try CSVTable.lines(of: data, path: path).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.first?.hasPrefix("index,iso3") == true else {
            throw DataError(file: path, row: 1, problem: "expected columns index,iso3,name")
        }
        guard lines.count - 1 == m else { throw DataError(file: path, problem: "has \(lines.count - 1) countries, ek-labor.csv has \(m)") }
        return try lines.dropFirst().enumerated().map { r, line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count >= 2, Int(cells[0]) == r + 1, !cells[1].isEmpty else {
                throw DataError(file: path, row: r + 2, column: "index", problem: "expected index \(r + 1) and an ISO code")
            }
            return String(cells[1])
        }
    }
}

/// Read a one-column CSV vector (header `guess`, as the author's calibration files).
public func readVector(path: String, count: Int? = nil) throws -> [Double] {
    let t = try CSVTable(path: path, expected: ["guess"], rowCount: count)
    return t.rows.map { $0[0] }
}
