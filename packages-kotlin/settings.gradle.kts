// The coffer Kotlin library (Android AAR). JVM tests run without Gradle: see test-jvm.sh.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "coffer"
