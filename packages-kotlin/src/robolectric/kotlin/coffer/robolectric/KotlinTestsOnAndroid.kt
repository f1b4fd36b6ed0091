// The Kotlin test cases of src/test (the same ones test-jvm.sh runs on the JVM), each as a JUnit
// test on Android's framework classes (API 34) under Robolectric, with JNA loading the host
// library. Run by test-robolectric.sh.
package coffer.robolectric

import coffer.test.allTests
import org.junit.Assert.assertEquals
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.ParameterizedRobolectricTestRunner
import org.robolectric.annotation.Config
import org.robolectric.annotation.ConscryptMode

@RunWith(ParameterizedRobolectricTestRunner::class)
@Config(sdk = [34])
@ConscryptMode(ConscryptMode.Mode.OFF)
class KotlinTestsOnAndroid(private val name: String) {
    companion object {
        @JvmStatic
        @ParameterizedRobolectricTestRunner.Parameters(name = "{0}")
        fun cases(): List<Array<Any>> = allTests().cases.keys.map { arrayOf<Any>(it) }
    }

    @Test
    fun run() {
        assertEquals("Android's classes are the API 34 ones", 34, android.os.Build.VERSION.SDK_INT)
        allTests().cases.getValue(name)()
    }
}
