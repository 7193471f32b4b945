import COpenBLAS
import Foundation

/// The normalisation-invariant gravity objects of HAT-SPEC §5.2 (Eaton–Kortum transformation).
public struct GravityMoments: Equatable, Sendable {
    /// Exporter effects S_j, mean zero.
    public var S: [Double]
    /// Importer cost effects θm_i, mean zero.
    public var thetaM: [Double]
    /// Distance-bin effects dist_1…dist_6.
    public var distance: [Double]
    /// Border, shared language, European Community, EFTA.
    public var dummies: [Double]

    public static let dummyNames = ["border", "language", "european_community", "efta"]

    /// The 46 calibration moments of §5.5 (for M = 19): S_1..S_{M−1}, θm_1..θm_{M−1}, dist (6), dummies (4).
    public var calibrationVector: [Double] { Array(S.dropLast()) + Array(thetaM.dropLast()) + distance + dummies }

    /// All objects, S then θm then dist then dummies (2M + 10 entries).
    public var flattened: [Double] { S + thetaM + distance + dummies }

    public init(S: [Double], thetaM: [Double], distance: [Double], dummies: [Double]) {
        self.S = S; self.thetaM = thetaM; self.distance = distance; self.dummies = dummies
    }

    init(flattened v: [Double], countries m: Int) {
        S = Array(v[0..<m]); thetaM = Array(v[m..<(2 * m)]); distance = Array(v[(2 * m)..<(2 * m + 6)])
        dummies = Array(v[(2 * m + 6)..<(2 * m + 10)])
    }
}

/// An OLS gravity fit with its diagnostics.
public struct GravityFit: Sendable {
    public var moments: GravityMoments
    /// Standard errors of the same objects (homoskedastic OLS, propagated through the linear transformation).
    public var standardErrors: GravityMoments
    public var rSquared: Double
    public var sumOfSquaredResiduals: Double
    public var observations: Int
    public var parameters: Int
}

public enum GravityError: Error, CustomStringConvertible {
    case rankDeficient(String)
    /// A regressor is (numerically) a linear combination of the others; `column` names it as in the data
    /// files (a bin or dummy column, or "importer"/"exporter" for a fixed effect).
    case collinear(column: String, detail: String)
    /// The dependent variable is constant: nothing to explain.
    case noVariation
    /// The fit's statistics overflowed (values too large for double arithmetic).
    case nonFinite(String)

    public var description: String {
        switch self {
        case .rankDeficient(let what): return "gravity regression: \(what)"
        case let .collinear(column, detail):
            return "gravity regression: regressor \(column) is collinear with the others (\(detail)); the coefficients are not identified"
        case .noVariation: return "gravity regression: every observation of the trade column is the same value; nothing to explain"
        case .nonFinite(let what): return "gravity regression: \(what) is not finite (values too large for double arithmetic?)"
        }
    }

    /// The data column the error is about, if any.
    public var column: String? {
        switch self {
        case .collinear(let column, _): return column
        case .noVariation, .nonFinite: return "trade"
        case .rankDeficient: return nil
        }
    }
}

/// Names of the design columns of `gravityRegression`, as the data files call them.
func designColumnNames(countries m: Int, names: [String]?) -> [String] {
    let label = { (i: Int) -> String in names.map { $0[i] } ?? "\(i + 1)" }
    return ["bin375", "bin750", "bin1500", "bin3000", "bin6000", "binmax"]
        + (1..<m).map { "importer (fixed effect of \(label($0)))" }
        + (1..<m).map { "exporter (fixed effect of \(label($0)))" }
        + ["border", "sharedlanguage", "europeancom", "efta"]
}

/// OLS of y_ij = FEimp_i + FEexp_j + Σ_k b_k bin_k + b·(border, language, EC, EFTA) (HAT-SPEC §5.2), solved
/// with LAPACK (QR, dgels). The design drops what is collinear (FEimp_1 = FEexp_1 = 0; the six bins act as the
/// intercept), then the EK transformation: S = FEexp − mean(FEexp), importer effects absorb the shift,
/// m̄ = mean(FEimp + S), θm = FEimp + S − m̄, dist = b + m̄. These objects do not depend on the dropped columns.
public func gravityRegression(y: [Double], pairs: [PairRegressors], countries m: Int,
                              countryNames: [String]? = nil) throws -> GravityFit {
    let n = y.count
    precondition(pairs.count == n)
    let p = 6 + 2 * (m - 1) + 4
    guard n > p else { throw GravityError.rankDeficient("\(n) observations for \(p) parameters") }
    guard y.contains(where: { $0 != y[0] }) else { throw GravityError.noVariation }
    // Column layout: bins 0..5 | importer FE 2..M | exporter FE 2..M | 4 dummies. Column-major X.
    var x = [Double](repeating: 0, count: n * p)
    for (r, pair) in pairs.enumerated() {
        x[pair.distanceBin * n + r] = 1
        if pair.importer > 0 { x[(6 + pair.importer - 1) * n + r] = 1 }
        if pair.exporter > 0 { x[(6 + (m - 1) + pair.exporter - 1) * n + r] = 1 }
        for k in 0..<4 { x[(6 + 2 * (m - 1) + k) * n + r] = pair.dummies[k] }
    }
    // X'X for the covariance (before dgels overwrites X).
    var xtx = [Double](repeating: 0, count: p * p)
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, Int32(p), Int32(n), 1, x, Int32(n), 0, &xtx, Int32(p))
    try checkFullRank(x, rows: n, columns: p, names: designColumnNames(countries: m, names: countryNames))
    var design = x
    var rhs = y
    let info = LAPACKE_dgels(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "N")), Int32(n), Int32(p), 1, &design, Int32(n), &rhs, Int32(n))
    guard info == 0 else { throw GravityError.rankDeficient("design matrix is rank deficient (LAPACK info \(info))") }
    let beta = Array(rhs[0..<p])

    // Fit diagnostics.
    var fitted = [Double](repeating: 0, count: n)
    cblas_dgemv(CblasColMajor, CblasNoTrans, Int32(n), Int32(p), 1, x, Int32(n), beta, 1, 0, &fitted, 1)
    var ssr = 0.0, mean = 0.0
    for r in 0..<n { ssr += (y[r] - fitted[r]) * (y[r] - fitted[r]); mean += y[r] }
    mean /= Double(n)
    var sst = 0.0
    for r in 0..<n { sst += (y[r] - mean) * (y[r] - mean) }

    // Covariance σ²(X'X)⁻¹ via Cholesky.
    guard LAPACKE_dpotrf(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(p), &xtx, Int32(p)) == 0,
          LAPACKE_dpotri(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(p), &xtx, Int32(p)) == 0 else {
        throw GravityError.rankDeficient("X'X is singular")
    }
    guard beta.allSatisfy({ $0.isFinite }) else { throw GravityError.nonFinite("a coefficient") }
    guard ssr.isFinite, sst.isFinite else { throw GravityError.nonFinite("the sum of squares") }
    let sigma2 = ssr / Double(n - p)
    func cov(_ a: Int, _ b: Int) -> Double { sigma2 * (a <= b ? xtx[b * p + a] : xtx[a * p + b]) }

    // The transformation is linear in β: build its matrix column by column, then propagate the covariance.
    let moments = transform(beta, countries: m)
    let outCount = 2 * m + 10
    var t = [Double](repeating: 0, count: outCount * p)            // row-major outCount × p
    for k in 0..<p {
        var e = [Double](repeating: 0, count: p)
        e[k] = 1
        let column = transform(e, countries: m).flattened
        for o in 0..<outCount { t[o * p + k] = column[o] }
    }
    var variances = [Double](repeating: 0, count: outCount)
    for o in 0..<outCount {
        var v = 0.0
        for a in 0..<p where t[o * p + a] != 0 {
            for b in 0..<p where t[o * p + b] != 0 { v += t[o * p + a] * cov(a, b) * t[o * p + b] }
        }
        variances[o] = max(v, 0)
    }
    return GravityFit(moments: moments,
                      standardErrors: GravityMoments(flattened: variances.map { $0.squareRoot() }, countries: m),
                      rSquared: 1 - ssr / sst, sumOfSquaredResiduals: ssr, observations: n, parameters: p)
}

/// Pivoted QR (LAPACK dgeqp3) of the column-major design: a diagonal entry of R below 1e-10 of the largest
/// means the pivoted column at that position is a combination of the columns before it.
func checkFullRank(_ x: [Double], rows n: Int, columns p: Int, names: [String]) throws {
    var a = x
    var pivots = [Int32](repeating: 0, count: p)
    var tau = [Double](repeating: 0, count: p)
    guard LAPACKE_dgeqp3(LAPACK_COL_MAJOR, Int32(n), Int32(p), &a, Int32(n), &pivots, &tau) == 0 else {
        throw GravityError.rankDeficient("QR factorisation failed")
    }
    let largest = abs(a[0])
    for k in 0..<p where !(abs(a[k * n + k]) > 1e-10 * largest) {
        let column = names[Int(pivots[k]) - 1]
        let zero = (0..<n).allSatisfy { x[(Int(pivots[k]) - 1) * n + $0] == 0 }
        throw GravityError.collinear(column: column, detail: zero ? "it is zero in every observation"
                                                                   : "it is a linear combination of other regressors")
    }
}

/// The EK transformation of raw coefficients (layout of `gravityRegression`).
func transform(_ beta: [Double], countries m: Int) -> GravityMoments {
    let bins = Array(beta[0..<6])
    let importer = [0] + Array(beta[6..<(6 + m - 1)])
    let exporter = [0] + Array(beta[(6 + m - 1)..<(6 + 2 * (m - 1))])
    let dummies = Array(beta[(6 + 2 * (m - 1))..<(6 + 2 * (m - 1) + 4)])
    let shift = exporter.reduce(0, +) / Double(m)
    let S = exporter.map { $0 - shift }
    let imp = importer.map { $0 + shift }
    let mBar = zip(imp, S).map { $0 + $1 }.reduce(0, +) / Double(m)
    let thetaM = zip(imp, S).map { $0 + $1 - mBar }
    return GravityMoments(S: S, thetaM: thetaM, distance: bins.map { $0 + mBar }, dummies: dummies)
}

/// Model-generated gravity data (HAT-SPEC §5.3): y_ij = log(π_ij/π_ii) for every off-diagonal pair of
/// `pairs`, from a row-major trade-share matrix (row = importer).
public func logTradeRatios(tradeShares: [Double], pairs: [PairRegressors], countries m: Int) -> [Double] {
    pairs.map { log(tradeShares[$0.importer * m + $0.exporter] / tradeShares[$0.importer * m + $0.importer]) }
}
