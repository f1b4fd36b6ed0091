// A small test harness for the Kotlin tests: named cases that the JVM main runs (one line per case
// and the closing line "N passed, N failed"; no JUnit needed: kotlinc + the Kotlin stdlib +
// kotlinx-coroutines) and that the Robolectric suite (src/robolectric) runs one JUnit test each;
// plus a minimal JSON reader for test-vectors/.
package coffer.test

import java.io.File

class Harness {
    /** The registered cases, in order; the JVM main runs them all, the Robolectric suite one per JUnit test. */
    val cases = LinkedHashMap<String, () -> Unit>()

    fun test(name: String, body: () -> Unit) {
        require(name !in cases) { "two tests are named '$name'" }
        cases[name] = body
    }

    /** Runs every case, printing one line each and the closing line; returns the process exit code. */
    fun runAll(): Int {
        var passed = 0
        val failures = mutableListOf<String>()
        for ((name, body) in cases) {
            val t0 = System.nanoTime()
            try {
                body()
                passed++
                println("ok   $name (${(System.nanoTime() - t0) / 1_000_000} ms)")
            } catch (e: Throwable) {
                failures += name
                println("FAIL $name: $e")
                e.printStackTrace(System.out)
            }
        }
        if (failures.isNotEmpty()) println("failed: ${failures.joinToString(", ")}")
        println("${passed} passed, ${failures.size} failed")
        return if (failures.isEmpty() && passed > 0) 0 else 1
    }
}

fun check(cond: Boolean, msg: () -> String = { "check failed" }) {
    if (!cond) throw AssertionError(msg())
}

fun <T> checkEq(expected: T, actual: T, what: String = "value") {
    if (expected != actual) throw AssertionError("$what: expected <$expected>, got <$actual>")
}

fun checkBytes(expected: ByteArray, actual: ByteArray, what: String = "bytes") {
    if (!expected.contentEquals(actual)) {
        throw AssertionError("$what: expected ${expected.size} bytes ${expected.toHex().take(64)}…, got ${actual.size} bytes ${actual.toHex().take(64)}…")
    }
}

/** Runs [body] and returns the exception of type [T] it throws; fails if it throws nothing or something else. */
inline fun <reified T : Throwable> expectThrows(body: () -> Unit): T {
    try {
        body()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("expected ${T::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${T::class.simpleName}, nothing was thrown")
}

fun String.hexToBytes(): ByteArray {
    check(length % 2 == 0) { "odd hex length" }
    return ByteArray(length / 2) { i -> substring(2 * i, 2 * i + 2).toInt(16).toByte() }
}

fun ByteArray.toHex(): String = joinToString("") { "%02x".format(it.toInt() and 0xff) }

/** The repository root: $COFFER_REPO, else found by walking up to test-vectors/. */
fun repoRoot(): File {
    System.getenv("COFFER_REPO")?.let { return File(it) }
    var d: File? = File(".").absoluteFile
    while (d != null) {
        if (File(d, "test-vectors").isDirectory) return d
        d = d.parentFile
    }
    error("cannot find the repository root (set COFFER_REPO)")
}

fun vectors(name: String): Map<String, Any?> {
    @Suppress("UNCHECKED_CAST")
    return Json(File(repoRoot(), "test-vectors/$name").readText()).parse() as Map<String, Any?>
}

/** A minimal JSON reader (objects, arrays, strings, numbers, true/false/null). */
class Json(private val s: String) {
    private var i = 0

    fun parse(): Any? {
        val v = value()
        ws()
        check(i == s.length) { "trailing data at $i" }
        return v
    }

    private fun ws() {
        while (i < s.length && s[i].isWhitespace()) i++
    }

    private fun value(): Any? {
        ws()
        return when (val c = s[i]) {
            '{' -> obj()
            '[' -> arr()
            '"' -> str()
            't' -> lit("true", true)
            'f' -> lit("false", false)
            'n' -> lit("null", null)
            else -> if (c == '-' || c.isDigit()) num() else error("unexpected '$c' at $i")
        }
    }

    private fun lit(word: String, v: Any?): Any? {
        check(s.startsWith(word, i)) { "bad literal at $i" }
        i += word.length
        return v
    }

    private fun num(): Any {
        val start = i
        while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
        val t = s.substring(start, i)
        return t.toLongOrNull() ?: t.toDouble()
    }

    private fun str(): String {
        val sb = StringBuilder()
        i++
        while (true) {
            val c = s[i++]
            when (c) {
                '"' -> return sb.toString()
                '\\' -> {
                    when (val e = s[i++]) {
                        'n' -> sb.append('\n'); 't' -> sb.append('\t'); 'r' -> sb.append('\r')
                        'b' -> sb.append('\b'); 'f' -> sb.append('\u000c')
                        'u' -> { sb.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                        else -> sb.append(e)
                    }
                }
                else -> sb.append(c)
            }
        }
    }

    private fun arr(): List<Any?> {
        val out = mutableListOf<Any?>()
        i++
        ws()
        if (s[i] == ']') { i++; return out }
        while (true) {
            out += value()
            ws()
            when (s[i++]) { ',' -> continue; ']' -> return out; else -> error("bad array at ${i - 1}") }
        }
    }

    private fun obj(): Map<String, Any?> {
        val out = LinkedHashMap<String, Any?>()
        i++
        ws()
        if (s[i] == '}') { i++; return out }
        while (true) {
            ws()
            val k = str()
            ws()
            check(s[i++] == ':') { "expected ':' at ${i - 1}" }
            out[k] = value()
            ws()
            when (s[i++]) { ',' -> continue; '}' -> return out; else -> error("bad object at ${i - 1}") }
        }
    }
}

@Suppress("UNCHECKED_CAST")
fun Any?.obj(): Map<String, Any?> = this as Map<String, Any?>

@Suppress("UNCHECKED_CAST")
fun Any?.list(): List<Any?> = this as List<Any?>
