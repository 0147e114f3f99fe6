# cmake -DINPUT=example.yaml -DOUTPUT=default_sweep.cpp -P embed_default_sweep.cmake
# Writes a C++ file defining plascale::default_sweep_yaml() with INPUT's text.
file(READ ${INPUT} text)
string(FIND "${text}" ")plascale_yaml\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )plascale_yaml\"")
endif()
file(WRITE ${OUTPUT}
  "// Generated from sweeps/examples/example.yaml by embed_default_sweep.cmake: do not edit.\n"
  "#include \"sweeps/sweep.h\"\n"
  "const char* plascale::default_sweep_yaml() {\n"
  "  return R\"plascale_yaml(${text})plascale_yaml\";\n"
  "}\n")
