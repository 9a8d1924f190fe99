#version 330 core
// A lit mesh of a 3D effect; positions in the asset's own space, moved into camera space
// by u_model_view (pose x placement x node transform).
in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;
in vec4 in_color;
uniform mat4 u_model_view;
uniform mat3 u_normal_matrix;
uniform mat4 u_projection;
out vec3 v_position;
out vec3 v_normal;
out vec2 v_uv;
out vec4 v_color;

void main() {
    vec4 position = u_model_view * vec4(in_position, 1.0);
    v_position = position.xyz;
    v_normal = u_normal_matrix * in_normal;
    v_uv = in_uv;
    v_color = in_color;
    gl_Position = u_projection * position;
}
