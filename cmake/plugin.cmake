# tk_add_plugin(NAME SOURCES... [TEMPLATES type] [LIBS libs...])
#
# Builds a tickler plugin: a MODULE library named NAME.so in the plugins
# folder, compiled with hidden visibility so that only tk_plugin_entry is
# exported, linked with -z defs so that an unresolved symbol fails the build
# rather than the load.  TEMPLATES TYPE embeds etc/templates/*/TYPE/*.tmpl
# into the plugin as a generated tk_templates_<TYPE>.h (an array of
# struct tk_template_text), so a plugin works without a templates folder.
function(tk_add_plugin name)
  cmake_parse_arguments(P "" "TEMPLATES" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${TK_PLUGIN_DIR})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_CURRENT_BINARY_DIR})
  if(NOT TK_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,-z,defs)
  endif()
  if(P_LIBS)
    target_link_libraries(${name} PRIVATE ${P_LIBS})
  endif()
  if(P_TEMPLATES)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/tk_templates_${P_TEMPLATES}.h)
    file(GLOB tmpls CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/etc/templates/*/${P_TEMPLATES}/*.tmpl)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -DTYPE=${P_TEMPLATES} -DSRC=${CMAKE_SOURCE_DIR}/etc/templates
              -DOUT=${out} -P ${CMAKE_SOURCE_DIR}/cmake/embed_templates.cmake
      DEPENDS ${tmpls} ${CMAKE_SOURCE_DIR}/cmake/embed_templates.cmake
      COMMENT "Embedding ${P_TEMPLATES} templates")
    target_sources(${name} PRIVATE ${out})
  endif()
  install(TARGETS ${name} LIBRARY DESTINATION ${TK_INSTALL_PLUGIN_DIR}
          PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                      WORLD_READ WORLD_EXECUTE)
endfunction()
