# install.cmake - the plugin SDK as installed: headers, tickler.pc, the CMake
# package (TicklerConfig.cmake with tickler_add_plugin) and the embedding
# script, plus the docs a plugin author needs (plugins.md, templates.md
# with the template format).  Every path is arch-independent, so the .pc and
# the package go under share/ (searched by pkg-config and find_package for
# any prefix).
include(CMakePackageConfigHelpers)
file(STRINGS ${CMAKE_SOURCE_DIR}/include/tickler/plugin.h abi_lines
     REGEX "^#define TK_ABI_(MAJOR|MINOR) [0-9]+")
string(REGEX REPLACE ".*TK_ABI_MAJOR ([0-9]+).*TK_ABI_MINOR ([0-9]+).*" "\\1.\\2" TK_ABI
       "${abi_lines}")
set(sdk_out ${CMAKE_BINARY_DIR}/sdk)
# compiled into the binary (plugin/path.c), so absolute, not relocatable
set(TK_CONF_PLUGIN_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tickler/plugins)
configure_file(${CMAKE_SOURCE_DIR}/cmake/sdk/tickler.pc.in ${sdk_out}/tickler.pc @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/cmake/sdk/TicklerConfig.cmake.in
               ${sdk_out}/TicklerConfig.cmake @ONLY)
# The ABI's major changes break plugins; the version's minor does not.
write_basic_package_version_file(${sdk_out}/TicklerConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)

install(DIRECTORY include/tickler DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${sdk_out}/tickler.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)
install(FILES ${sdk_out}/TicklerConfig.cmake ${sdk_out}/TicklerConfigVersion.cmake
              ${CMAKE_SOURCE_DIR}/cmake/embed_templates.cmake
        DESTINATION ${CMAKE_INSTALL_DATADIR}/cmake/Tickler)
install(FILES docs/plugins.md docs/templates.md docs/transports.md docs/cli.md
              docs/configuration.md docs/lua.md docs/delivery.md docs/rules.md docs/scaling.md
              docs/ARCHITECTURE.md README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY examples/request/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/request
        PATTERN "test.sh" EXCLUDE)
