# Writes OUT: a C array `tk_templates_<TYPE>[]` of struct tk_template_text
# holding every SRC/<lang>/<TYPE>/<name>.tmpl, so that the plugin carries its
# default templates.  Run with cmake -P:
#
#   cmake -DTYPE=request -DSRC=templates -DOUT=tk_templates_request.h \
#         -P embed_templates.cmake
#
# A '-' in TYPE becomes '_' in the array's name.  Installed with the SDK
# (share/cmake/Tickler/, `pkg-config --variable=embed_templates tickler`);
# tk_add_plugin and tickler_add_plugin run it for you.
if(NOT TYPE OR NOT SRC OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DTYPE=type -DSRC=templates-folder -DOUT=header.h -P embed_templates.cmake")
endif()
string(MAKE_C_IDENTIFIER "${TYPE}" ident)
file(GLOB files ${SRC}/*/${TYPE}/*.tmpl)
list(SORT files)
set(body "/* generated from ${TYPE} templates by embed_templates.cmake: do not edit */\n")
string(APPEND body "static const struct tk_template_text tk_templates_${ident}[] = {\n")
foreach(f ${files})
  get_filename_component(name ${f} NAME_WE)
  get_filename_component(tdir ${f} DIRECTORY)
  get_filename_component(ldir ${tdir} DIRECTORY)
  get_filename_component(lang ${ldir} NAME)
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" esc "${hex}")
  # split long literals every 64 bytes to keep compilers happy
  string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f]){64})" "\\1\"\n    \"" esc "${esc}")
  string(APPEND body "  { \"${lang}\", \"${name}\",\n    \"${esc}\" },\n")
endforeach()
string(APPEND body "  { 0, 0, 0 }\n};\n")
file(WRITE ${OUT}.tmp "${body}")
file(RENAME ${OUT}.tmp ${OUT})
