#version 330 core
// A lit mesh of a 3D effect; positions in the asset's own space, moved into camera space
// by u_model_view (pose x placement x node transform). Skinned and morphed meshes arrive
// already deformed (arfx.render.gltf_anim, on the CPU).
in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;
in vec4 in_color;
in vec4 in_tangent;   // xyz along +u, w handedness; w = 0: the mesh has no tangents
in vec2 in_uv1;
uniform mat4 u_model_view;
uniform mat3 u_normal_matrix;
uniform mat4 u_projection;
out vec3 v_position;
out vec3 v_normal;
out vec2 v_uv;
out vec2 v_uv1;
out vec4 v_color;
out vec4 v_tangent;

void main() {
    vec4 position = u_model_view * vec4(in_position, 1.0);
    v_position = position.xyz;
    v_normal = u_normal_matrix * in_normal;
    v_tangent = vec4(mat3(u_model_view) * in_tangent.xyz, in_tangent.w);
    v_uv = in_uv;
    v_uv1 = in_uv1;
    v_color = in_color;
    gl_Position = u_projection * position;
}
